# Copyright (c) mmkd contributors. All rights reserved.
"""One run of a study, in its own process: train (resuming), test, record.

    python -m mmkd.experiments.train_test RUN_DIR

``RUN_DIR`` holds ``config.py`` and ``job.json`` (written by :mod:`mmkd.experiments.study`);
this writes ``RUN_DIR/result.json`` last, so a run stopped midway has none.
"""
import glob
import os.path as osp
import sys
import time

import numpy as np
import torch
from mmengine.config import Config
from mmengine.runner import Runner

import mmkd  # noqa: F401  (mmkd's classes, and safe checkpoint loading on torch >= 2.6)
from mmkd.experiments.records import read_json, write_json

NUM_TIMED = 20  # test images timed one by one, after two warm-up images


def train_and_test(folder: str) -> dict:
    """Train as ``tools/train.py`` does (resuming from the last checkpoint), then test on
    the test split as ``tools/test.py`` does; write and return ``result.json``.

    Returns:
        dict: ``key`` (from ``job.json``), ``mAP`` and ``mAP_50`` (COCO bbox, percent),
        ``checkpoint``, ``train_s``, ``scalars`` (mmengine's training logs, oldest first),
        ``params`` (the deployed detector's, without teacher and adapter), ``infer_ms``,
        ``teacher_check`` (the teacher's metrics from ``TeacherCheckHook``, if it ran).
    """
    job = read_json(osp.join(folder, 'job.json'))
    cfg = Config.fromfile(osp.join(folder, 'config.py'))
    runner = Runner.from_cfg(cfg)
    start = time.perf_counter()
    runner.train()
    train_s = time.perf_counter() - start
    metrics = runner.test()
    with open(osp.join(folder, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    model = getattr(runner.model, 'module', runner.model)
    parts = (model.backbone, model.neck, model.rpn_head, model.roi_head)
    result = dict(
        key=job['key'],
        # CocoMetric gives no mAP when a model detects nothing at all: that is 0 AP
        mAP=round(100 * float(metrics.get('coco/bbox_mAP') or 0.0), 2),
        mAP_50=round(100 * float(metrics.get('coco/bbox_mAP_50') or 0.0), 2),
        checkpoint=checkpoint,
        train_s=round(train_s, 1),
        scalars=sorted(glob.glob(osp.join(folder, '*', 'vis_data', 'scalars.json'))),
        params=sum(p.numel() for part in parts for p in part.parameters()),
        infer_ms=round(inference_ms(runner), 2),
        teacher_check=runner.message_hub.get_info('teacher_check'))
    write_json(osp.join(folder, 'result.json'), result)
    return result


def inference_ms(runner: Runner) -> float:
    """Mean time of ``test_step`` on single test images, after two warm-up images."""
    loader = runner.build_dataloader(dict(runner.cfg.test_dataloader, batch_size=1))
    model = runner.model.eval()
    times = []
    with torch.no_grad():
        for i, data in enumerate(loader):
            if i >= NUM_TIMED + 2:
                break
            start = time.perf_counter()
            model.test_step(data)
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            times.append(time.perf_counter() - start)
    return 1000 * float(np.mean(times[2:] or times))


if __name__ == '__main__':
    train_and_test(sys.argv[1])
