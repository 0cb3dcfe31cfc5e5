"""Shared fixtures: a tiny COCO dataset written on the fly, and tiny model configs."""
import json
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
