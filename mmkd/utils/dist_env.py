"""Distributed training on CPUs (gloo) through MMEngine's runner, for tests and CPU clusters."""
import datetime

import torch
import torch.distributed as dist
from mmengine.config import Config


def setup_cpu_distributed(cfg: Config) -> None:
    """Let ``--launcher pytorch`` run without CUDA: gloo backend, DDP over CPU modules.

    MMEngine 0.10 assumes a GPU per rank: its ``init_dist`` calls ``torch.cuda.set_device`` and
    its default DDP wrapper passes ``device_ids=[LOCAL_RANK]``. Without CUDA this function
    starts the process group itself with gloo (the runner then skips its own ``init_dist``) and
    sets ``model_wrapper_cfg.device_ids=None``. It does nothing when CUDA is available or the
    launcher is not ``'pytorch'`` (mmengine's slurm and mpi set-ups need GPUs).

    Args:
        cfg (Config): The full config; ``cfg.launcher`` must be set. Modified in place.
    """
    if cfg.get('launcher') != 'pytorch' or torch.cuda.is_available():
        return
    if cfg.get('env_cfg', {}).get('dist_cfg', {}).get('backend', 'nccl') == 'nccl':
        cfg.merge_from_dict({'env_cfg.dist_cfg.backend': 'gloo'})
    dist_cfg = cfg.env_cfg.dist_cfg
    wrapper = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel',
        broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
    if not dist.is_initialized():
        timeout = datetime.timedelta(seconds=dist_cfg.get('timeout', 1800))
        dist.init_process_group(backend=dist_cfg['backend'], timeout=timeout)


def teardown_distributed() -> None:
    """Destroy the process group, if any, before the interpreter exits.

    Gloo's worker threads must stop first: a rank that exits with the group alive can abort
    ('terminate called without an active exception') after its work is done.
    """
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
