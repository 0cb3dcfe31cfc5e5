"""Safe checkpoint loading on torch >= 2.6, and teacher checkpoints with errors that say what to do.

torch >= 2.6 unpickles with ``weights_only=True`` by default and refuses the few non-tensor types
that mmengine writes into its checkpoints, so resuming fails; and mmengine 0.10 downloads through
``torch.hub.load_state_dict_from_url``, whose default is still ``weights_only=False``. Importing
mmkd fixes both: :data:`SAFE_GLOBALS` allowlists exactly the types found in mmengine-saved and
model-zoo checkpoints, and mmengine's checkpoint loaders (local files, URLs, ``torchvision://``,
``open-mmlab://``, ``mmcls://``) are replaced by ones that always unpickle with
``weights_only=True``. Anything else in a checkpoint is refused before it can run.
"""
import os
import os.path as osp
import pickle
import re
from typing import Optional, Union
from urllib.parse import urlparse

import numpy as np
import torch
from mmengine.dist import get_dist_info
from mmengine.logging import HistoryBuffer, print_log
from mmengine.runner.checkpoint import (
    CheckpointLoader,
    _get_mmengine_home,
    _process_mmcls_checkpoint,
    get_deprecated_model_names,
    get_external_models,
    get_mmcls_models,
    get_torchvision_models,
)
from torch import nn

try:
    from numpy._core import multiarray  # numpy >= 2
except ImportError:  # pragma: no cover
    from numpy.core import multiarray

MapLocation = Union[str, torch.device, None]
_HISTORY_BUFFER_STATISTICS = ('min', 'max', 'current', 'mean')
_TEACHER_HINT = 'pass a local file with --cfg-options model.teacher_ckpt=/path/to.pth'


class CheckpointLoadError(RuntimeError):
    """A checkpoint cannot be read (truncated, corrupt) or does not fit the model."""


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint holds a pickled object outside :data:`SAFE_GLOBALS`."""


def _history_buffer_statistic(owner: type, name: str):
    """Stand-in for ``getattr`` while unpickling, limited to ``HistoryBuffer.min`` and siblings.

    mmengine's message hub pickles ``HistoryBuffer._statistics_methods`` as
    ``getattr(HistoryBuffer, 'min')``; a general ``getattr`` would reach any attribute.
    """
    if owner is HistoryBuffer and name in _HISTORY_BUFFER_STATISTICS:
        return getattr(owner, name)
    raise pickle.UnpicklingError(f'getattr({owner!r}, {name!r})')


# Everything else torch already allows: tensors, OrderedDict, Counter, containers, numbers, str.
SAFE_GLOBALS = [
    HistoryBuffer,  # message_hub.log_scalars of mmengine-saved checkpoints
    np.ndarray,  # HistoryBuffer histories
    np.dtype,
    # dtype instances are built as their numeric classes (numpy.dtypes.Float64DType, ...)
    *(type(np.dtype(t)) for t in (np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8,
                                   np.uint16, np.uint32, np.uint64, np.float16, np.float32,
                                   np.float64)),
    (multiarray._reconstruct, 'numpy._core.multiarray._reconstruct'),
    (multiarray._reconstruct, 'numpy.core.multiarray._reconstruct'),  # saved with numpy < 2
    (multiarray.scalar, 'numpy._core.multiarray.scalar'),  # numpy scalars, e.g. the eta
    (multiarray.scalar, 'numpy.core.multiarray.scalar'),
    (_history_buffer_statistic, 'builtins.getattr'),
]
torch.serialization.add_safe_globals(SAFE_GLOBALS)


def _refused_global(message: str) -> Optional[str]:
    """Return what the weights-only unpickler refused, or None if the file is just not a pickle."""
    detail = message.partition('WeightsUnpickler error:')[2].strip() or message
    if not re.search(r'GLOBAL|function|allowlisted|getattr', detail):
        return None
    found = re.search(r'GLOBAL (\S+)', detail)
    return found.group(1) if found else detail.splitlines()[0]


def _is_corrupt(err: Exception) -> bool:
    if isinstance(err, (FileNotFoundError, PermissionError, IsADirectoryError)):
        return False
    # torch's zip reader says '[Errno 22] Invalid argument' for a truncated file.
    if isinstance(err, (EOFError, OSError, pickle.UnpicklingError)):
        return True
    return bool(re.search(r'corrupt|PytorchStreamReader|zip archive|EOF', str(err)))


def _load_file(filename: str, map_location: MapLocation) -> dict:
    """``torch.load(weights_only=True)`` with errors that name the file and what is wrong."""
    try:
        return torch.load(filename, map_location=map_location, weights_only=True)
    except (pickle.UnpicklingError, EOFError, OSError, RuntimeError) as err:
        refused = _refused_global(str(err)) if isinstance(err, pickle.UnpicklingError) else None
        if refused is not None:
            raise UnsafeCheckpointError(
                f"refused to load checkpoint '{filename}': it holds {refused}, which is not in "
                "mmkd's allowlist of checkpoint types (tensors, containers, numbers, strings, "
                "numpy arrays, mmengine's HistoryBuffer), and unpickling it could run code. Only "
                'load checkpoints you trust; to use a trusted one, save its weights alone '
                "(torch.save({'state_dict': state_dict}, 'weights.pth')).") from None
        if not _is_corrupt(err):
            raise
        raise CheckpointLoadError(
            f"checkpoint '{filename}' is truncated or corrupt ({type(err).__name__}: "
            f'{str(err).strip()[-200:] or "unexpected end of file"}): download or save it again'
        ) from err


@CheckpointLoader.register_scheme(prefixes='', force=True)
def load_from_local(filename: str, map_location: MapLocation = None) -> dict:
    """Load a local checkpoint with ``weights_only=True``."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f"checkpoint '{filename}' not found")
    return _load_file(filename, map_location)


def _cache_path(url: str) -> str:
    """Where :func:`_download` keeps ``url``: torch.hub's cache, as ``torch.hub`` does."""
    return osp.join(torch.hub.get_dir(), 'checkpoints', osp.basename(urlparse(url).path))


def _download(url: str) -> str:
    """Download ``url`` into torch.hub's cache (as ``torch.hub`` does) and return the file."""
    path = _cache_path(url)
    if not osp.isfile(path):
        os.makedirs(osp.dirname(path), exist_ok=True)
        print_log(f'Downloading {url} to {path}', logger='current')
        torch.hub.download_url_to_file(url, path, progress=False)
    return path


@CheckpointLoader.register_scheme(prefixes=('http://', 'https://'), force=True)
def load_from_http(url: str, map_location: MapLocation = None) -> dict:
    """Download (rank 0 first, as mmengine does) and load with ``weights_only=True``."""
    rank, world_size = get_dist_info()
    if rank == 0:
        path = _download(url)
    if world_size > 1:
        torch.distributed.barrier()
        if rank > 0:
            path = _download(url)
    return _load_file(path, map_location)


@CheckpointLoader.register_scheme(prefixes=('modelzoo://', 'torchvision://'), force=True)
def load_from_torchvision(filename: str, map_location: MapLocation = None) -> dict:
    """Load ``torchvision://NAME`` through :func:`load_from_http`."""
    name = filename.split('://', 1)[1]
    return load_from_http(get_torchvision_models()[name], map_location)


@CheckpointLoader.register_scheme(prefixes=('open-mmlab://', 'openmmlab://'), force=True)
def load_from_openmmlab(filename: str, map_location: MapLocation = None) -> dict:
    """Load ``open-mmlab://NAME`` through :func:`load_from_http` or :func:`load_from_local`."""
    name = filename.split('://', 1)[1]
    name = get_deprecated_model_names().get(name, name)
    url = get_external_models()[name]
    if url.startswith(('http://', 'https://')):
        return load_from_http(url, map_location)
    return load_from_local(osp.join(_get_mmengine_home(), url), map_location)


@CheckpointLoader.register_scheme(prefixes='mmcls://', force=True)
def load_from_mmcls(filename: str, map_location: MapLocation = None) -> dict:
    """Load ``mmcls://NAME`` through :func:`load_from_http`."""
    url = get_mmcls_models()[filename.split('://', 1)[1]]
    return _process_mmcls_checkpoint(load_from_http(url, map_location))


def local_checkpoint_file(filename: str) -> Optional[str]:
    """The local file that mmkd's loaders read for ``filename`` (a path, a URL, or a
    ``torchvision://``, ``open-mmlab://`` or ``mmcls://`` name), without downloading
    anything; None if that file does not exist (a URL not downloaded yet)."""
    if filename.startswith(('modelzoo://', 'torchvision://')):
        filename = get_torchvision_models()[filename.split('://', 1)[1]]
    elif filename.startswith(('open-mmlab://', 'openmmlab://')):
        name = filename.split('://', 1)[1]
        url = get_external_models()[get_deprecated_model_names().get(name, name)]
        filename = url if '://' in url else osp.join(_get_mmengine_home(), url)
    elif filename.startswith('mmcls://'):
        filename = get_mmcls_models()[filename.split('://', 1)[1]]
    if filename.startswith(('http://', 'https://')):
        filename = _cache_path(filename)
    filename = osp.expanduser(filename)
    return filename if osp.isfile(filename) else None


def _read_teacher(filename: str) -> dict:
    is_url = '://' in filename
    if not is_url and not osp.isfile(osp.expanduser(filename)):
        raise FileNotFoundError(f"teacher_ckpt '{filename}' not found: {_TEACHER_HINT}")
    try:
        checkpoint = CheckpointLoader.load_checkpoint(filename, map_location='cpu')
    except OSError as err:
        if not is_url:
            raise
        raise CheckpointLoadError(f'cannot download {filename} ({err}): {_TEACHER_HINT}') from err
    if not isinstance(checkpoint, dict):
        raise CheckpointLoadError(
            f"teacher_ckpt '{filename}' holds a {type(checkpoint).__name__}, not a state_dict")
    state_dict = checkpoint.get('state_dict', checkpoint)
    return {re.sub(r'^module\.', '', k): v for k, v in state_dict.items()}


def _list(title: str, items: list, limit: int = 10) -> str:
    more = f' ... and {len(items) - limit} more' if len(items) > limit else ''
    return f'\n  {title} ({len(items)}): ' + ', '.join(items[:limit]) + more


def load_teacher_checkpoint(model: nn.Module, filename: str) -> None:
    """Load a teacher checkpoint strictly into ``model``, with errors that say what to do.

    Args:
        model (nn.Module): The teacher detector, built from ``teacher_config``.
        filename (str): Local path, URL or ``open-mmlab://`` style name of the checkpoint,
            mmengine-saved (``state_dict`` key) or a bare state dict.

    Raises:
        FileNotFoundError: A local ``filename`` does not exist.
        CheckpointLoadError: The file cannot be downloaded or read, or its weights do not fit
            ``model`` (missing or unexpected keys, shape mismatches; up to 10 of each listed).
        UnsafeCheckpointError: The file holds a pickled object outside the allowlist.
    """
    state_dict = _read_teacher(filename)
    own = model.state_dict()
    # Like torch, accept checkpoints from before BatchNorm counted its batches.
    missing = [k for k in own if k not in state_dict and not k.endswith('num_batches_tracked')]
    unexpected = [k for k in state_dict if k not in own]
    mismatched = [
        f'{k} {tuple(v.shape)} in checkpoint, {tuple(own[k].shape)} in model'
        for k, v in state_dict.items() if k in own and v.shape != own[k].shape
    ]
    if missing or unexpected or mismatched:
        raise CheckpointLoadError(
            f"teacher_ckpt '{filename}' does not fit teacher_config: is it a checkpoint of "
            'another architecture or number of classes?' +
            (_list('missing keys', missing) if missing else '') +
            (_list('unexpected keys', unexpected) if unexpected else '') +
            (_list('shape mismatches', mismatched) if mismatched else ''))
    model.load_state_dict(state_dict, strict=True)
    print_log(f'Loaded teacher checkpoint {filename}', logger='current')
