"""Shared fixtures: a tiny COCO dataset written on the fly, and tiny model configs."""
import json
import os
import os.path as osp

import numpy as np
import pytest
import torch

torch.set_num_threads(2)

TINY_CLASSES = ('square', 'disc')


def write_tiny_coco(root: str, num_images: int = 6, size=(96, 128), seed: int = 0) -> dict:
    """Write a tiny COCO dataset of filled squares and discs on noise.

    Returns:
        dict: ``data_root``, ``ann_file`` (relative), ``img_prefix`` and ``classes``.
    """
    import cv2

    rng = np.random.RandomState(seed)
    h, w = size
    images, annotations = [], []
    for img_id in range(1, num_images + 1):
        img = rng.randint(0, 60, (h, w, 3)).astype(np.uint8)
        for _ in range(rng.randint(1, 4)):
            label = rng.randint(2)
            s = rng.randint(16, 40)
            x, y = rng.randint(0, w - s), rng.randint(0, h - s)
            color = tuple(int(c) for c in rng.randint(120, 255, 3))
            if label == 0:
                cv2.rectangle(img, (x, y), (x + s - 1, y + s - 1), color, -1)
            else:
                cv2.circle(img, (x + s // 2, y + s // 2), s // 2, color, -1)
            annotations.append(
                dict(id=len(annotations) + 1, image_id=img_id, category_id=label + 1,
                     bbox=[x, y, s, s], area=s * s, iscrowd=0))
        name = f'{img_id:04d}.png'
        cv2.imwrite(osp.join(root, name), img)
        images.append(dict(id=img_id, file_name=name, height=h, width=w))
    categories = [dict(id=i + 1, name=n) for i, n in enumerate(TINY_CLASSES)]
    with open(osp.join(root, 'ann.json'), 'w') as f:
        json.dump(dict(images=images, annotations=annotations, categories=categories), f)
    return dict(data_root=root + '/', ann_file='ann.json', img_prefix='', classes=TINY_CLASSES)


@pytest.fixture(scope='session')
def tiny_coco(tmp_path_factory):
    return write_tiny_coco(str(tmp_path_factory.mktemp('tiny_coco')))


@pytest.fixture
def tiny_bccd(tmp_path) -> str:
    """BCCD's layout and classes (trainval, test), a few 160x120 images of discs: its root."""
    import cv2

    root = str(tmp_path / 'bccd')
    os.makedirs(osp.join(root, 'images'))
    os.makedirs(osp.join(root, 'annotations'))
    rng = np.random.RandomState(0)
    cats = [dict(id=i + 1, name=n) for i, n in enumerate(('RBC', 'WBC', 'Platelets'))]
    for split, ids in (('trainval', range(1, 5)), ('test', range(5, 7))):
        images, anns = [], []
        for img_id in ids:
            img = rng.randint(0, 60, (120, 160, 3)).astype(np.uint8)
            for k in range(3):
                x, y, s = 10 + 45 * k, 20 + 20 * k, 20 + 8 * k
                cv2.circle(img, (x + s // 2, y + s // 2), s // 2, (200, 80, 80), -1)
                anns.append(dict(id=len(anns) + 1, image_id=img_id, category_id=k + 1,
                                 bbox=[x, y, s, s], area=s * s, iscrowd=0))
            cv2.imwrite(osp.join(root, 'images', f'{img_id}.jpg'), img)
            images.append(dict(id=img_id, file_name=f'{img_id}.jpg', height=120, width=160))
        with open(osp.join(root, 'annotations', f'{split}.json'), 'w') as f:
            json.dump(dict(images=images, annotations=anns, categories=cats), f)
    return root
