"""The synthetic shapes dataset: deterministic, valid COCO, every class, generated once."""
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest

from mmkd.experiments.shapes import SHAPES_CLASSES, draw_shapes_image, generate_shapes_dataset

SIZE = 96


@pytest.fixture(scope='module')
def shapes(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('shapes'))
    return generate_shapes_dataset(root, num_train=30, num_test=10, img_size=SIZE, seed=3)


def load(files, split):
    with open(osp.join(files['data_root'], files[f'{split}_ann'])) as f:
        return json.load(f)


def test_same_seed_same_dataset(shapes, tmp_path):
    again = generate_shapes_dataset(str(tmp_path), num_train=30, num_test=10, img_size=SIZE,
                                    seed=3)
    for split in ('train', 'test'):
        assert load(again, split) == load(shapes, split)
    for name in ('00000.png', '00029.png'):
        first = cv2.imread(osp.join(shapes['data_root'], 'train', name))
        second = cv2.imread(osp.join(again['data_root'], 'train', name))
        assert np.array_equal(first, second)


def test_other_seed_other_images():
    first, _ = draw_shapes_image(np.random.default_rng([3, 0, 0]), SIZE)
    second, _ = draw_shapes_image(np.random.default_rng([4, 0, 0]), SIZE)
    assert np.abs(first.astype(int) - second.astype(int)).mean() > 10


def test_annotations_are_valid_coco_inside_the_image(shapes):
    for split, num_images in (('train', 30), ('test', 10)):
        coco = load(shapes, split)
        assert [img['id'] for img in coco['images']] == list(range(1, num_images + 1))
        assert [c['name'] for c in coco['categories']] == list(SHAPES_CLASSES)
        ids = [ann['id'] for ann in coco['annotations']]
        assert len(set(ids)) == len(ids)
        for ann in coco['annotations']:
            x, y, w, h = ann['bbox']
            assert 0 <= x and 0 <= y and x + w <= SIZE and y + h <= SIZE
            assert w >= 1 and h >= 1
            # area counts the visible pixels, at least half the shape, inside its box
            assert 0 < ann['area'] <= w * h
            assert 1 <= ann['category_id'] <= len(SHAPES_CLASSES)
        for img in coco['images']:
            assert osp.isfile(osp.join(shapes['data_root'], split, img['file_name']))
            assert (img['height'], img['width']) == (SIZE, SIZE)


def test_every_class_present_with_varied_scales(shapes):
    anns = load(shapes, 'train')['annotations']
    assert {a['category_id'] for a in anns} == set(range(1, len(SHAPES_CLASSES) + 1))
    sides = [np.sqrt(a['bbox'][2] * a['bbox'][3]) for a in anns]
    assert min(sides) < SIZE / 6 and max(sides) > SIZE / 3
    per_image = np.bincount([a['image_id'] for a in anns], minlength=31)[1:]
    assert per_image.min() >= 1 and per_image.max() >= 4


def test_generated_once_and_redone_when_incomplete(shapes):
    marker = osp.join(shapes['data_root'], 'complete.json')
    stamp = os.stat(marker).st_mtime_ns
    generate_shapes_dataset(shapes['data_root'], num_train=30, num_test=10, img_size=SIZE,
                            seed=3)
    assert os.stat(marker).st_mtime_ns == stamp  # complete: nothing rewritten

    os.remove(marker)  # as after an interrupted generation
    os.remove(osp.join(shapes['data_root'], 'train', '00003.png'))
    generate_shapes_dataset(shapes['data_root'], num_train=30, num_test=10, img_size=SIZE,
                            seed=3)
    assert osp.isfile(osp.join(shapes['data_root'], 'train', '00003.png'))
    assert osp.isfile(marker)


def test_other_arguments_regenerate(tmp_path):
    generate_shapes_dataset(str(tmp_path), num_train=4, num_test=2, img_size=SIZE)
    generate_shapes_dataset(str(tmp_path), num_train=3, num_test=2, img_size=SIZE)
    assert sorted(os.listdir(tmp_path / 'train')) == ['00000.png', '00001.png', '00002.png']
    assert len(json.load(open(tmp_path / 'annotations' / 'train.json'))['images']) == 3
