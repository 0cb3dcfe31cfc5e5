"""mmkd: knowledge distillation for two-stage detectors (Chen et al., NeurIPS 2017).

Importing mmkd registers its detector, losses and neck into mmdet's ``MODELS``.
"""
from . import detectors, losses, necks  # noqa: F401

__version__ = '0.1.0'
