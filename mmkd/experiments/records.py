# Copyright (c) mmkd contributors. All rights reserved.
"""What the demo and the benchmarks record: summaries and atomic writes of result files.

mAP is in percent (COCO bbox mAP x 100, as mmdet's model zoo reports it) in every record
and report.
"""
import datetime
import json
import os
import os.path as osp
import statistics
from typing import Optional, Sequence, Tuple


def read_json(path: str) -> Optional[dict]:
    """The JSON object in ``path``, or None if there is none (or half of one)."""
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def write_text(path: str, text: str) -> None:
    """Write atomically: a process killed mid-write leaves the old file, not half a file."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    tmp = f'{path}.tmp{os.getpid()}'
    with open(tmp, 'w') as f:
        f.write(text)
    os.replace(tmp, path)


def write_json(path: str, data: dict) -> None:
    """Write ``data`` atomically, indented."""
    write_text(path, json.dumps(data, indent=2) + '\n')


def write_json_section(path: str, section: str, data: dict) -> None:
    """Replace one top-level section of the JSON file ``path``, keeping the others."""
    results = read_json(path) or {}
    results[section] = data
    write_json(path, results)


def mean_std(values: Sequence[float]) -> Tuple[float, Optional[float]]:
    """Mean and sample standard deviation (n - 1); the deviation is None for one value."""
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else None)


def gap_closed(kd: float, baseline: float, teacher: float) -> Optional[float]:
    """Share of the teacher-student gap that distillation closed,
    ``(kd - baseline) / (teacher - baseline)``; None where the teacher is not better."""
    if teacher <= baseline:
        return None
    return (kd - baseline) / (teacher - baseline)


def environment() -> dict:
    """Device, versions and date of a record, from ``mmdet.utils.collect_env``."""
    import torch
    from mmdet.utils import collect_env

    env = collect_env()
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else (
        f'CPU, {os.cpu_count()} cores')
    keys = ('Python', 'PyTorch', 'MMEngine', 'MMDetection', 'OpenCV')
    versions = {k: str(env[k]).split(' ')[0] for k in keys if k in env}
    return dict(device=device, versions=dict(versions, mmkd=_mmkd_commit()),
                date=datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d'))


def _mmkd_commit() -> str:
    """mmkd's version, with the commit of its checkout (``+dirty`` if it has changes)."""
    import subprocess

    import mmkd
    root = os.path.dirname(os.path.dirname(os.path.abspath(mmkd.__file__)))
    try:
        commit = subprocess.run(['git', 'describe', '--always', '--dirty=+dirty'], cwd=root,
                                capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ''
    return f'{mmkd.__version__} ({commit})' if commit else mmkd.__version__


def fmt_mean_std(values: Sequence[float], digits: int = 1) -> str:
    """``'45.2 ± 1.3'`` (one value: ``'45.2'``)."""
    mean, std = mean_std(values)
    return f'{mean:.{digits}f}' if std is None else f'{mean:.{digits}f} ± {std:.{digits}f}'
