"""mmkd: knowledge distillation for two-stage detectors (Chen et al., NeurIPS 2017).

Importing mmkd registers its detector, losses and neck into mmdet's ``MODELS``, its hooks into
mmdet's ``HOOKS``, and safe checkpoint loaders into mmengine (``mmkd.utils.checkpoint``).
``mmkd.experiments`` (the demo's and benchmarks' runner and data) is imported on demand.
``mmkd.config_path`` names the configs mmkd ships, for configs outside the repository.
"""
from . import detectors, hooks, losses, necks, utils  # noqa: F401
from .utils import config_path  # noqa: F401

__version__ = '0.1.0'
