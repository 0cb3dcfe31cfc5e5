"""Experiments around the library: the study runner the demo and the benchmarks share, and
the demo's synthetic dataset. Not imported by ``import mmkd``."""
