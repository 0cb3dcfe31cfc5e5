"""Export the student of a distilled checkpoint, for stock mmdet (no mmkd needed to load it).

Usage: python tools/export_student.py work_dirs/kd_faster_rcnn_r50_r18/epoch_12.pth student.pth

Keeps the detector's own weights (``backbone``, ``neck``, ``rpn_head``, ``roi_head``) and
``meta``, with the teacher that taught it (``meta['teacher']``: config, checkpoint, SHA-256,
printed); drops the adapter and any other distillation-only weights, and the optimizer,
schedulers and message hub. The result loads with ``strict=True`` into the plain student config,
with ``torch.load``'s default ``weights_only=True`` and no allowlist.
"""
import argparse
import os
import os.path as osp
import sys
from collections import OrderedDict

import torch
from mmengine.runner.checkpoint import CheckpointLoader

try:  # importing mmkd makes checkpoint loading safe on torch >= 2.6
    from mmkd.hooks.teacher_provenance_hook import describe_teacher
except ImportError:  # mmkd not installed: use this checkout
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
    from mmkd.hooks.teacher_provenance_hook import describe_teacher

STUDENT_MODULES = ('backbone', 'neck', 'rpn_head', 'roi_head')
PLAIN_TYPES = (str, int, float, bool, type(None))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Export the student of a distilled checkpoint')
    parser.add_argument('checkpoint', help='checkpoint saved by a distillation training')
    parser.add_argument('out', help='output file for the student checkpoint')
    return parser.parse_args()


def is_plain(obj) -> bool:
    """Whether ``obj`` is built of Python builtins only, which any ``torch.load`` accepts."""
    if isinstance(obj, (list, tuple)):
        return all(is_plain(v) for v in obj)
    if isinstance(obj, dict):
        return all(isinstance(k, str) and is_plain(v) for k, v in obj.items())
    return type(obj) in PLAIN_TYPES


def export_student(checkpoint: dict, source: str) -> dict:
    """Return ``{'meta', 'state_dict'}`` holding the student only.

    Args:
        checkpoint (dict): A checkpoint saved by mmengine from a distilled detector.
        source (str): Where ``checkpoint`` comes from, for messages and ``meta``.
    """
    if 'state_dict' not in checkpoint:
        raise SystemExit(f"'{source}' has no 'state_dict': is it a checkpoint saved by training?")
    state_dict = OrderedDict()
    dropped = set()
    for key, value in checkpoint['state_dict'].items():
        if key.split('.', 1)[0] in STUDENT_MODULES:
            state_dict[key] = value
        else:
            dropped.add(key.split('.', 1)[0])
    if not state_dict:
        raise SystemExit(f"'{source}' holds no {'/'.join(STUDENT_MODULES)} weights")
    meta = checkpoint.get('meta', {})
    not_plain = [k for k, v in meta.items() if not is_plain(v)]
    meta = {k: v for k, v in meta.items() if k not in not_plain}
    meta['exported_from'] = osp.basename(source)
    left = [k for k in checkpoint if k not in ('state_dict', 'meta')]
    left += [f'meta.{k}' for k in not_plain]
    print(f'student: {len(state_dict)} tensors; dropped modules: '
          f'{", ".join(sorted(dropped)) or "none"}; not copied: {", ".join(left) or "nothing"}')
    print(f'taught by: {describe_teacher(meta)}')
    return dict(meta=meta, state_dict=state_dict)


def main() -> None:
    args = parse_args()
    checkpoint = CheckpointLoader.load_checkpoint(args.checkpoint, map_location='cpu')
    student = export_student(checkpoint, args.checkpoint)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    torch.save(student, args.out)
    print(f'saved {args.out}')


if __name__ == '__main__':
    main()
