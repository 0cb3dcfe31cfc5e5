# Copyright (c) mmkd contributors. All rights reserved.
"""The demo report's figure (losses, teacher-student agreement, mAP) and drawn detections."""
import json
import os
import os.path as osp
import shutil
from typing import Dict, List

import numpy as np

AGREEMENT = ('kd_rpn_agree', 'kd_rcnn_agree', 'kd_teacher_acc', 'kd_rpn_bound_active',
             'kd_rcnn_bound_active')


def read_scalars(paths: List[str], prefix: str) -> Dict[str, tuple]:
    """Per logged value starting with ``prefix``: (iterations, values), from mmengine's
    ``scalars.json`` files of one run (several after a resume, oldest first)."""
    curves: Dict[str, tuple] = {}
    for path in paths:
        with open(path) as f:
            for line in f:
                record = json.loads(line)
                step = record.get('iter', record.get('step'))
                for key, value in record.items():
                    if key.startswith(prefix) and isinstance(value, (int, float)):
                        steps, values = curves.setdefault(key, ([], []))
                        steps.append(step)
                        values.append(value)
    return curves


def plot(runs: Dict[str, dict], record: dict, path: str) -> str:
    """Losses of the student alone and distilled, the distilled run's agreement with the
    teacher, and every seed's mAP."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(21, 4.5))
    axes[1].sharey(axes[0])
    colors: Dict[str, str] = {}  # one colour per loss term in both panels
    for ax, name in zip(axes, ('student', 'distilled')):
        for key, (steps, values) in sorted(read_scalars(runs[name]['scalars'], 'loss_').items()):
            color = colors.setdefault(key, f'C{len(colors) % 10}')
            style = '--' if '_kd_' in key or 'hint' in key else '-'
            ax.plot(steps, values, style, color=color, label=key)
        ax.set(title=f'{name}: losses (dashed: distillation)', xlabel='iteration',
               ylabel='weighted loss', yscale='log')
        ax.legend(fontsize=7)
    curves = read_scalars(runs['distilled']['scalars'], 'kd_')
    for key in AGREEMENT:
        if key in curves:
            axes[2].plot(*curves[key], label=key)
    axes[2].set(title='distilled: agreement with the teacher', xlabel='iteration',
                ylabel='share', ylim=(0, 1.02))
    axes[2].legend(fontsize=7)
    names = ('teacher', 'baseline', 'kd')
    for x, name in enumerate(names):
        maps = record[f'{name}_map']
        axes[3].bar(x, np.mean(maps), 0.6, color=f'C{x}', alpha=0.5)
        axes[3].plot([x] * len(maps), maps, 'o', color=f'C{x}')
        axes[3].annotate(f'{np.mean(maps):.1f}', (x, np.mean(maps)), ha='center',
                         va='bottom', fontsize=8)
    axes[3].set(title='COCO test mAP (%) per seed', xticks=range(len(names)),
                xticklabels=['teacher', 'student alone', 'distilled'])
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def draw_detections(runs: Dict[str, dict], out_dir: str, num_images: int,
                    score_thr: float = 0.3, scale: int = 3) -> List[str]:
    """For the first test images: ground truth, then each run's detections, side by side.

    Args:
        runs (dict): ``{title: result}``; a result holds ``work_dir`` (with the run's
            ``config.py``) and ``checkpoint``.
        out_dir (str): Where the images go (emptied first).
        num_images (int): How many test images.
        score_thr (float): Lowest score drawn. Defaults to 0.3.
        scale (int): Enlargement, so that labels stay readable. Defaults to 3.
    """
    import cv2
    from mmdet.apis import inference_detector, init_detector
    from mmengine.config import Config

    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(out_dir)
    models = {title: init_detector(Config.fromfile(osp.join(r['work_dir'], 'config.py')),
                                   r['checkpoint'], device='cpu')
              for title, r in runs.items()}
    dataset = next(iter(models.values())).cfg.test_dataloader.dataset
    with open(osp.join(dataset.data_root, dataset.ann_file)) as f:
        coco = json.load(f)
    classes = [c['name'] for c in coco['categories']]
    paths = []
    for info in coco['images'][:num_images]:
        img_path = osp.join(dataset.data_root, dataset.data_prefix['img'], info['file_name'])
        img = cv2.resize(cv2.imread(img_path), None, fx=scale, fy=scale,
                         interpolation=cv2.INTER_NEAREST)
        gt = [(a['bbox'][0], a['bbox'][1], a['bbox'][0] + a['bbox'][2],
               a['bbox'][1] + a['bbox'][3], a['category_id'] - 1, None)
              for a in coco['annotations'] if a['image_id'] == info['id']]
        panels = [_panel(img, gt, classes, 'ground truth', scale)]
        for title, model in models.items():
            pred = inference_detector(model, img_path).pred_instances
            keep = pred.scores >= score_thr
            boxes = [(*b.tolist(), int(lbl), float(s)) for b, lbl, s in
                     zip(pred.bboxes[keep], pred.labels[keep], pred.scores[keep])]
            panels.append(_panel(img, boxes, classes, title.lower(), scale))
        paths.append(osp.join(out_dir, osp.splitext(info['file_name'])[0] + '.png'))
        cv2.imwrite(paths[-1], np.hstack(panels))
    return paths


def _panel(img: np.ndarray, boxes: list, classes: List[str], title: str,
           scale: int) -> np.ndarray:
    import cv2

    panel = np.pad(img, ((24, 4), (4, 4), (0, 0)), constant_values=255)
    cv2.putText(panel, title, (6, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1)
    for x1, y1, x2, y2, label, score in boxes:
        color = tuple(int(c) for c in np.array(_color(label)))
        p1 = (int(x1 * scale) + 4, int(y1 * scale) + 24)
        p2 = (int(x2 * scale) + 4, int(y2 * scale) + 24)
        cv2.rectangle(panel, p1, p2, color, 2)
        text = classes[label] + ('' if score is None else f' {score:.2f}')
        cv2.putText(panel, text, (p1[0] + 2, p1[1] + 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                    color, 1)
    return panel


def _color(label: int) -> tuple:
    palette = [(60, 180, 75), (230, 25, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180),
               (70, 240, 240), (240, 50, 230)]
    return palette[label % len(palette)]
