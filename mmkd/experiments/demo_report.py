# Copyright (c) mmkd contributors. All rights reserved.
"""The demo report's figure (losses, teacher-student agreement, mAP) and drawn detections."""
import copy
import json
import os
import os.path as osp
import shutil
from typing import Dict, List, Optional, Tuple

import numpy as np
from mmdet.evaluation.functional import bbox_overlaps

AGREEMENT = ('kd_rpn_agree', 'kd_rcnn_agree', 'kd_teacher_acc', 'kd_rpn_bound_active',
             'kd_rcnn_bound_active')
IOU_THR = 0.5  # a detection finds a ground-truth box of its class at this IoU
THRESHOLDS = np.arange(5, 100) / 100  # score thresholds tried: 0.05, 0.06, ..., 0.99


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
                    pair: Tuple[str, str], max_candidates: int = 100,
                    scale: int = 3) -> dict:
    """Ground truth, then each run's detections, side by side, on the test images where the
    two runs of ``pair`` differ most.

    Each run detects on the first ``max_candidates`` test images and draws the boxes at or
    above its own threshold: the score (0.05 to 0.99) with its best F1 at IoU 0.5 on those
    images, as one would deploy it (one threshold for all would suit one model only).
    The images drawn are those where the two runs of ``pair`` find the most different
    numbers of ground-truth boxes at their thresholds (:func:`pick_images`).

    Args:
        runs (dict): ``{title: result}``; a result holds ``work_dir`` (with the run's
            ``config.py``) and ``checkpoint``.
        out_dir (str): Where the images go (emptied first).
        num_images (int): How many images to draw.
        pair (tuple[str, str]): The titles of the two runs compared.
        max_candidates (int): Test images looked at, the first ones. Defaults to 100
            (the demo's three detectors: about 10-30 s on 2 CPU cores).
        scale (int): Enlargement, so that labels stay readable. Defaults to 3.

    Returns:
        dict: ``paths`` (the drawn images, most different first), ``pair``,
        ``num_candidates``, and per title its ``thresholds`` and ``f1``.
    """
    import cv2
    from mmdet.apis import init_detector
    from mmengine.config import Config

    models = {title: init_detector(Config.fromfile(osp.join(r['work_dir'], 'config.py')),
                                   r['checkpoint'], device='cpu')
              for title, r in runs.items()}
    infos, preds = _detect(models, max_candidates)
    gts, classes = _ground_truth(next(iter(models.values())).cfg.test_dataloader.dataset,
                                 infos)
    num_gt = [len(labels) for _, labels in gts]
    thresholds, f1, counts = _thresholds(preds, gts)
    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(out_dir)
    paths = []
    for rank, i in enumerate(pick_images(counts[pair[0]], counts[pair[1]], num_images), 1):
        img = cv2.resize(cv2.imread(infos[i]['img_path']), None, fx=scale, fy=scale,
                         interpolation=cv2.INTER_NEAREST)
        panels = [_panel(img, *gts[i], None, classes, f'ground truth: {num_gt[i]} boxes',
                         scale)]
        for title, thr in thresholds.items():
            boxes, labels, scores = preds[title][i]
            keep = scores >= thr
            panels.append(_panel(img, boxes[keep], labels[keep], scores[keep], classes,
                                 f'{title.lower()} >= {thr:.2f}: found '
                                 f'{counts[title][i]}/{num_gt[i]}', scale))
        name = osp.splitext(osp.basename(infos[i]['img_path']))[0]
        paths.append(osp.join(out_dir, f'{rank}_{name}.png'))
        cv2.imwrite(paths[-1], np.hstack(panels))
    return dict(paths=paths, pair=pair, num_candidates=len(infos), thresholds=thresholds,
                f1=f1)


def detections_sentence(drawn: dict) -> str:
    """What :func:`draw_detections` drew and by which rules, for the report."""
    a, b = (title.lower() for title in drawn['pair'])
    n = drawn['num_candidates']
    models = '; '.join(f"{title.lower()} {thr:.2f} (F1 {drawn['f1'][title]:.2f})"
                       for title, thr in drawn['thresholds'].items())
    return (f"the {len(drawn['paths'])} of the first {n} test images where the {a} and the "
            f'{b} find the most different numbers of ground-truth boxes (same class, IoU >= '
            f'{IOU_THR}, each at its threshold; in test order on a tie). Left to right: '
            f"ground truth, {', '.join(t.lower() for t in drawn['thresholds'])}; each model "
            f'draws its boxes scored at or above its own threshold, the one with its best F1 '
            f'at IoU {IOU_THR} on those {n} images: {models}. Each panel title gives the '
            'threshold and the ground-truth boxes found; a label that would cover another '
            'is left out.')


def match(boxes: np.ndarray, labels: np.ndarray, scores: np.ndarray, gt_boxes: np.ndarray,
          gt_labels: np.ndarray, iou_thr: float = IOU_THR) -> np.ndarray:
    """Which detections find a ground-truth box, as COCO's evaluation matches them: in
    descending score, each takes the unmatched box of its class it overlaps most, if at
    IoU >= ``iou_thr``. A detection's match depends only on higher scores, so that keeping
    the detections above any threshold keeps their matches.

    Args:
        boxes (np.ndarray): Detections, (N, 4) as x1, y1, x2, y2; ``labels`` and
            ``scores`` (N,).
        gt_boxes (np.ndarray): Ground truth, (G, 4); ``gt_labels`` (G,).
        iou_thr (float): Lowest IoU of a match. Defaults to 0.5.

    Returns:
        np.ndarray: (N,) bool, in the order of ``boxes``.
    """
    found = np.zeros(len(boxes), bool)
    if len(boxes) == 0 or len(gt_boxes) == 0:
        return found
    ious = bbox_overlaps(np.asarray(boxes, np.float32), np.asarray(gt_boxes, np.float32))
    ious[np.asarray(labels)[:, None] != np.asarray(gt_labels)[None, :]] = -1
    taken = np.zeros(len(gt_boxes), bool)
    for i in np.argsort(-np.asarray(scores), kind='stable'):
        iou = np.where(taken, -1, ious[i])
        j = int(iou.argmax())
        if iou[j] >= iou_thr:
            found[i] = taken[j] = True
    return found


def best_threshold(scores: np.ndarray, found: np.ndarray, num_gt: int,
                   thresholds: np.ndarray = THRESHOLDS) -> Tuple[float, float]:
    """The score threshold with the best F1 = 2 TP / (detections kept + ground truth);
    the highest one on a tie (fewer boxes to look at).

    Args:
        scores (np.ndarray): (N,) scores of all detections on all images.
        found (np.ndarray): (N,) bool, whether each finds a ground-truth box (:func:`match`).
        num_gt (int): Ground-truth boxes on all images.
        thresholds (np.ndarray): Thresholds tried. Defaults to 0.05, 0.06, ..., 0.99.

    Returns:
        tuple[float, float]: The threshold and its F1.
    """
    kept = np.asarray(scores)[None, :] >= thresholds[:, None]  # (T, N)
    true_pos = (kept & np.asarray(found, bool)).sum(1)
    f1 = 2 * true_pos / np.maximum(kept.sum(1) + num_gt, 1)
    best = np.flatnonzero(f1 == f1.max())[-1]
    return float(thresholds[best]), float(f1[best])


def pick_images(found_a: List[int], found_b: List[int], num: int) -> List[int]:
    """Indices of the ``num`` images where two models' counts of found ground-truth boxes
    differ most, either way; in image order on a tie."""
    diff = np.abs(np.asarray(found_b) - np.asarray(found_a))
    return np.argsort(-diff, kind='stable')[:num].tolist()


def place_labels(boxes: List[tuple], sizes: List[tuple],
                 bounds: tuple) -> List[Optional[Tuple[int, int]]]:
    """Top-left corners of the boxes' labels, so that no two labels overlap.

    A label goes above its box, else inside its top, below it, inside its bottom, each
    shifted into ``bounds``: the first place free of the labels placed before it; ``None``
    if there is none. Place the most important boxes first.

    Args:
        boxes (list[tuple]): (x1, y1, x2, y2) per box, in pixels.
        sizes (list[tuple]): (width, height) of each box's label.
        bounds (tuple): (x1, y1, x2, y2) that labels stay within.
    """
    placed, corners = [], []
    for (x1, y1, _, y2), (w, h) in zip(boxes, sizes):
        corners.append(None)
        for y in (y1 - h, y1, y2, y2 - h):
            x0 = max(bounds[0], min(x1, bounds[2] - w))
            y0 = max(bounds[1], min(y, bounds[3] - h))
            rect = (x0, y0, x0 + w, y0 + h)
            if not any(_overlap(rect, other) for other in placed):
                placed.append(rect)
                corners[-1] = (x0, y0)
                break
    return corners


def _overlap(a: tuple, b: tuple) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _detect(models: dict, max_candidates: int) -> tuple:
    """Image infos of the first test images, and per model (boxes, labels, scores) on each,
    batched as in testing."""
    import torch
    from mmengine.runner import Runner

    cfg = next(iter(models.values())).cfg.test_dataloader
    loader = Runner.build_dataloader(dict(cfg, dataset=dict(cfg.dataset,
                                                            indices=max_candidates)))
    infos, preds = [], {title: [] for title in models}
    with torch.no_grad():
        for batch in loader:
            infos += [sample.metainfo for sample in batch['data_samples']]
            for title, model in models.items():
                for sample in model.test_step(copy.deepcopy(batch)):
                    pred = sample.pred_instances.cpu().numpy()
                    preds[title].append((pred.bboxes, pred.labels, pred.scores))
    return infos, preds


def _thresholds(preds: Dict[str, list], gts: List[tuple]) -> tuple:
    """Per title: its threshold (:func:`best_threshold`) and F1 on all images, and the
    ground-truth boxes it finds at that threshold on each image."""
    thresholds, f1, counts = {}, {}, {}
    for title, per_image in preds.items():
        found = [match(*pred, *gt) for pred, gt in zip(per_image, gts)]
        scores = [pred[2] for pred in per_image]
        thresholds[title], f1[title] = best_threshold(
            np.concatenate(scores), np.concatenate(found), sum(len(gt[1]) for gt in gts))
        counts[title] = [int((f & (s >= thresholds[title])).sum())
                         for f, s in zip(found, scores)]
    return thresholds, f1, counts


def _ground_truth(dataset: dict, infos: List[dict]) -> tuple:
    """Per image (boxes (G, 4) as x1, y1, x2, y2, labels (G,)), and the class names."""
    with open(osp.join(dataset.data_root, dataset.ann_file)) as f:
        coco = json.load(f)
    label = {c['id']: i for i, c in enumerate(coco['categories'])}
    per_image = {info['img_id']: ([], []) for info in infos}
    for ann in coco['annotations']:
        if ann['image_id'] in per_image:
            x, y, w, h = ann['bbox']
            per_image[ann['image_id']][0].append([x, y, x + w, y + h])
            per_image[ann['image_id']][1].append(label[ann['category_id']])
    gts = [per_image[info['img_id']] for info in infos]
    return ([(np.array(b, np.float32).reshape(-1, 4), np.array(l, np.int64)) for b, l in gts],
            [c['name'] for c in coco['categories']])


def _panel(img: np.ndarray, boxes: np.ndarray, labels: np.ndarray,
           scores: Optional[np.ndarray], classes: List[str], title: str,
           scale: int) -> np.ndarray:
    """The image with a title band and its boxes; labels in filled boxes, the highest
    scores placed first."""
    import cv2

    font = cv2.FONT_HERSHEY_SIMPLEX
    panel = np.pad(img, ((24, 4), (4, 4), (0, 0)), constant_values=255)
    title_scale = 0.5
    while cv2.getTextSize(title, font, title_scale, 1)[0][0] > panel.shape[1] - 8:
        title_scale -= 0.05
    cv2.putText(panel, title, (4, 17), font, title_scale, (0, 0, 0), 1, cv2.LINE_AA)
    order = range(len(labels)) if scores is None else np.argsort(-scores, kind='stable')
    pixels = [tuple(int(v) for v in np.round(boxes[i] * scale) + [4, 24, 4, 24])
              for i in order]
    texts = [classes[labels[i]] + ('' if scores is None else f' {scores[i]:.2f}'.replace(
        ' 0.', ' .')) for i in order]
    colors = [_color(int(labels[i])) for i in order]
    sizes = [cv2.getTextSize(text, font, 0.4, 1)[0] for text in texts]
    sizes = [(w + 4, h + 6) for w, h in sizes]
    for (x1, y1, x2, y2), color in zip(pixels, colors):
        cv2.rectangle(panel, (x1, y1), (x2, y2), color, 2)
    corners = place_labels(pixels, sizes, (0, 24, panel.shape[1], panel.shape[0]))
    for corner, (w, h), text, color in zip(corners, sizes, texts, colors):
        if corner is not None:
            x, y = corner
            cv2.rectangle(panel, (x, y), (x + w - 1, y + h - 1), color, -1)
            ink = (0, 0, 0) if np.dot(color, (0.114, 0.587, 0.299)) > 140 else (255, 255, 255)
            cv2.putText(panel, text, (x + 2, y + h - 4), font, 0.4, ink, 1, cv2.LINE_AA)
    return panel


def _color(label: int) -> tuple:
    palette = [(60, 180, 75), (230, 25, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180),
               (70, 240, 240), (240, 50, 230)]
    return palette[label % len(palette)]
