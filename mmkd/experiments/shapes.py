# Copyright (c) mmkd contributors. All rights reserved.
"""A deterministic synthetic detection dataset of shapes, written in COCO format.

Each image has a textured background (smooth colour field, stripes, pixel noise), up to six
annotated shapes of five classes, from a tenth to half the image side, rotated and coloured
at random (some close to the background colour), and unannotated distractors (irregular
polygons, thick lines, thin ellipses, arcs). Everything is drawn in random depth order, so
objects occlude each other and are occluded by clutter, each staying at least half visible;
its box is the tight box of its visible pixels. Classes come in look-alike pairs (disc /
ring, square / cross): colour tells nothing, shape detail does.

The same ``seed`` always gives the same images and annotation files: every image is drawn
from its own generator seeded by ``(seed, split, index)``.
"""
import json
import os
import os.path as osp
import shutil
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np

SHAPES_CLASSES = ('disc', 'ring', 'square', 'cross', 'triangle')
_MARKER = 'complete.json'
_SPLITS = ('train', 'test')
_VERSION = 1  # bump when the drawing changes: datasets of an older version are redone
# an object stays annotated only if at least this share of it remains visible
_MIN_VISIBLE = 0.5


def generate_shapes_dataset(root: str,
                            num_train: int = 600,
                            num_test: int = 150,
                            img_size: int = 96,
                            seed: int = 0,
                            force: bool = False) -> Dict[str, str]:
    """Write the dataset under ``root`` once; later calls return at once.

    Layout: ``root/{train,test}/*.png`` and ``root/annotations/{train,test}.json``.
    ``root/complete.json`` holds the generation arguments and is written last, so an
    interrupted generation (or one with other arguments) is redone from scratch.

    Args:
        root (str): Output folder.
        num_train (int): Training images. Defaults to 600.
        num_test (int): Test images. Defaults to 150.
        img_size (int): Side of the square images in pixels. Defaults to 96.
        seed (int): Seed of the whole dataset. Defaults to 0.
        force (bool): Regenerate even if a complete dataset is there. Defaults to False.

    Returns:
        dict[str, str]: ``data_root`` (ending with ``/``), ``train_ann``, ``test_ann``
        (relative to ``data_root``) and ``train_img``, ``test_img`` (image prefixes).
    """
    args = dict(num_train=num_train, num_test=num_test, img_size=img_size, seed=seed,
                classes=list(SHAPES_CLASSES), version=_VERSION)
    files = dict(data_root=osp.join(osp.abspath(root), ''),
                 train_ann='annotations/train.json', test_ann='annotations/test.json',
                 train_img='train/', test_img='test/')
    marker = osp.join(root, _MARKER)
    if not force and _read_json(marker) == args:
        return files
    if osp.exists(marker):
        os.remove(marker)
    for sub in (*_SPLITS, 'annotations'):
        shutil.rmtree(osp.join(root, sub), ignore_errors=True)
    os.makedirs(osp.join(root, 'annotations'))
    for split_id, (split, num) in enumerate(zip(_SPLITS, (num_train, num_test))):
        coco = _generate_split(osp.join(root, split), num, img_size, seed, split_id)
        with open(osp.join(root, 'annotations', f'{split}.json'), 'w') as f:
            json.dump(coco, f)
    with open(marker, 'w') as f:
        json.dump(args, f)
    return files


def _read_json(path: str) -> Optional[dict]:
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _generate_split(img_dir: str, num_images: int, size: int, seed: int,
                    split_id: int) -> dict:
    """Draw and save ``num_images`` images; return their COCO dict."""
    os.makedirs(img_dir)
    images, annotations = [], []
    for idx in range(num_images):
        rng = np.random.default_rng([seed, split_id, idx])
        img, objects = draw_shapes_image(rng, size)
        name = f'{idx:05d}.png'
        cv2.imwrite(osp.join(img_dir, name), img)
        img_id = idx + 1
        images.append(dict(id=img_id, file_name=name, height=size, width=size))
        for label, bbox, area in objects:
            annotations.append(
                dict(id=len(annotations) + 1, image_id=img_id, category_id=label + 1,
                     bbox=bbox, area=area, iscrowd=0))
    categories = [dict(id=i + 1, name=name) for i, name in enumerate(SHAPES_CLASSES)]
    return dict(images=images, annotations=annotations, categories=categories)


def draw_shapes_image(rng: np.random.Generator,
                      size: int) -> Tuple[np.ndarray, List[Tuple[int, List[int], int]]]:
    """Draw one image.

    Args:
        rng (np.random.Generator): Source of all randomness of this image.
        size (int): Image side in pixels.

    Returns:
        tuple: The BGR image (size, size, 3) uint8 and its objects, each
        ``(label, [x, y, w, h], visible_area)``; the box is the tight box of the
        visible pixels.
    """
    img = _background(rng, size)
    # ids of the item that owns each pixel: 0 background, i > 0 the i-th item drawn
    owner = np.zeros((size, size), np.int32)
    full_areas, labels = {}, {}
    items = [0] * int(rng.integers(2, 7)) + [1] * int(rng.integers(2, 6))
    rng.shuffle(items)  # random depth order of objects (0) and distractors (1)
    for item_id, is_distractor in enumerate(items, start=1):
        for _ in range(10):  # placements that would hide an object too much are redrawn
            if is_distractor:
                mask, label = _distractor_mask(rng, size), None
            else:
                label = int(rng.integers(len(SHAPES_CLASSES)))
                mask = _object_mask(rng, size, label)
            if mask.any() and _keeps_objects_visible(owner, mask, full_areas):
                break
        else:
            continue
        _paint(img, mask, rng)
        owner[mask] = item_id
        if label is not None:
            full_areas[item_id], labels[item_id] = int(mask.sum()), label
    objects = []
    for item_id, label in labels.items():
        ys, xs = np.nonzero(owner == item_id)
        x0, y0 = int(xs.min()), int(ys.min())
        bbox = [x0, y0, int(xs.max()) - x0 + 1, int(ys.max()) - y0 + 1]
        objects.append((label, bbox, len(xs)))
    noise = rng.normal(0, 6, img.shape)
    return np.clip(img + noise, 0, 255).astype(np.uint8), objects


def _keeps_objects_visible(owner: np.ndarray, mask: np.ndarray, full_areas: dict) -> bool:
    """Whether every object drawn so far stays at least ``_MIN_VISIBLE`` visible."""
    for item_id, full in full_areas.items():
        visible = np.count_nonzero((owner == item_id) & ~mask)
        if visible < _MIN_VISIBLE * full:
            return False
    return True


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """Smooth random colour field plus faint stripes, as float32 (size, size, 3)."""
    coarse = rng.uniform(40, 215, (4, 4, 3)).astype(np.float32)
    img = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)
    yy, xx = np.mgrid[:size, :size].astype(np.float32)
    angle, period = rng.uniform(0, np.pi), rng.uniform(4, 16)
    stripes = np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period)
    img += rng.uniform(5, 25) * stripes[..., None]
    return img


def _paint(img: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> None:
    """Fill ``mask`` with a random colour, some of them close to the background."""
    if rng.random() < 0.3:  # low contrast: a shifted copy of the local background
        color = img[mask].mean(0) + rng.choice([-1, 1]) * rng.uniform(35, 60, 3)
    else:
        color = rng.uniform(0, 255, 3)
    img[mask] = np.clip(color, 0, 255)


def _object_mask(rng: np.random.Generator, size: int, label: int) -> np.ndarray:
    """Mask of one object of class ``label``, log-uniform scale, random pose."""
    side = float(np.exp(rng.uniform(np.log(size * 0.1), np.log(size * 0.5))))
    cx, cy = rng.uniform(side / 2, size - side / 2, 2)
    angle = rng.uniform(0, 2 * np.pi)
    mask = np.zeros((size, size), np.uint8)
    name = SHAPES_CLASSES[label]
    if name == 'disc':
        cv2.circle(mask, _pt(cx, cy), round(side / 2), 1, -1)
    elif name == 'ring':
        cv2.circle(mask, _pt(cx, cy), round(side / 2), 1, -1)
        cv2.circle(mask, _pt(cx, cy), round(side / 2 * rng.uniform(0.45, 0.7)), 0, -1)
    else:
        cv2.fillPoly(mask, [_polygon(name, cx, cy, side, angle, rng)], 1)
    return mask.astype(bool)


def _polygon(name: str, cx: float, cy: float, side: float, angle: float,
             rng: np.random.Generator) -> np.ndarray:
    """Vertices (K, 2) int32 of a square, cross or triangle of extent ``side``."""
    if name == 'square':
        pts = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]])
    elif name == 'cross':
        a = rng.uniform(0.12, 0.2)  # half the arm width
        pts = np.array([[-a, -0.5], [a, -0.5], [a, -a], [0.5, -a], [0.5, a], [a, a],
                        [a, 0.5], [-a, 0.5], [-a, a], [-0.5, a], [-0.5, -a], [-a, -a]])
    else:  # equilateral triangle inscribed in the circle of diameter ``side``
        t = np.array([0, 2, 4]) * np.pi / 3 - np.pi / 2
        pts = np.stack([np.cos(t), np.sin(t)], 1) * 0.5
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    pts = pts @ rot.T * side + [cx, cy]
    return np.round(pts).astype(np.int32)


def _distractor_mask(rng: np.random.Generator, size: int) -> np.ndarray:
    """Mask of an unannotated distractor: blob, thick line, thin ellipse or arc."""
    mask = np.zeros((size, size), np.uint8)
    kind = int(rng.integers(4))
    cx, cy = rng.uniform(0, size, 2)
    extent = rng.uniform(8, size * 0.5)
    if kind == 0:  # irregular star-convex polygon
        n = int(rng.integers(5, 9))
        t = np.sort(rng.uniform(0, 2 * np.pi, n))
        r = extent / 2 * rng.uniform(0.4, 1.0, n)
        pts = np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], 1)
        cv2.fillPoly(mask, [np.round(pts).astype(np.int32)], 1)
    elif kind == 1:  # thick line
        t = rng.uniform(0, np.pi)
        dx, dy = extent * np.cos(t) / 2, extent * np.sin(t) / 2
        cv2.line(mask, _pt(cx - dx, cy - dy), _pt(cx + dx, cy + dy), 1,
                 int(rng.integers(2, 6)))
    elif kind == 2:  # thin ellipse, aspect ratio >= 2.5 so it never passes for a disc
        axes = _pt(extent / 2, extent / 2 / rng.uniform(2.5, 5))
        cv2.ellipse(mask, _pt(cx, cy), axes, rng.uniform(0, 180), 0, 360, 1, -1)
    else:  # arc
        start = rng.uniform(0, 360)
        cv2.ellipse(mask, _pt(cx, cy), _pt(extent / 2, extent / 2), 0, start,
                    start + rng.uniform(90, 240), 1, int(rng.integers(2, 5)))
    return mask.astype(bool)


def _pt(x: float, y: float) -> Tuple[int, int]:
    return int(round(x)), int(round(y))
