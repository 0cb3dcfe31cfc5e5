"""Importing this registers mmkd's safe checkpoint loaders into mmengine (see ``checkpoint``)."""
from .checkpoint import (
    SAFE_GLOBALS,
    CheckpointLoadError,
    UnsafeCheckpointError,
    load_teacher_checkpoint,
)
from .configs import config_path
from .dist_env import setup_cpu_distributed, teardown_distributed

__all__ = [
    'SAFE_GLOBALS', 'CheckpointLoadError', 'UnsafeCheckpointError', 'load_teacher_checkpoint',
    'config_path', 'setup_cpu_distributed', 'teardown_distributed'
]
