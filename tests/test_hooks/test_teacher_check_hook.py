"""TeacherCheckHook: a broken teacher stops training before the first iteration, with the
measured value, what chance scores and the likely causes; a random teacher stops even where
objects are large enough for it to pass a fixed threshold; a trained one passes and its
metrics are logged."""
import copy
import glob
import json
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from mmkd.hooks import TeacherCheckHook

CONFIGS = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'configs')


def tiny_config(tiny_coco, work_dir, **model) -> Config:
    cfg = Config.fromfile(osp.join(CONFIGS, 'tiny_kd_faster_rcnn.py'))
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.data_root = tiny_coco['data_root']
    for key in ('val_evaluator', 'test_evaluator'):
        cfg[key].ann_file = tiny_coco['data_root'] + tiny_coco['ann_file']
    cfg.model.update(model)
    cfg.work_dir = str(work_dir)
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=1, val_interval=10)
    cfg.log_processor = dict(by_epoch=False)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1, by_epoch=False)
    cfg.custom_hooks = [dict(type='TeacherCheckHook')]
    return cfg


@pytest.fixture(scope='module')
def trained_teacher(tiny_coco, tmp_path_factory):
    """The tiny student architecture trained 20 iterations on the tiny data, and its
    mAP on the 6 images as mmengine's own validation measures it."""
    cfg = Config.fromfile(osp.join(CONFIGS, 'tiny_faster_rcnn.py'))
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.data_root = tiny_coco['data_root']
    cfg.val_evaluator.ann_file = tiny_coco['data_root'] + tiny_coco['ann_file']
    cfg.test_evaluator = cfg.val_evaluator
    cfg.work_dir = str(tmp_path_factory.mktemp('teacher'))
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=20, val_interval=20)
    cfg.optim_wrapper = dict(optimizer=dict(type='AdamW', lr=0.002, weight_decay=0.05))
    cfg.param_scheduler = []
    cfg.log_processor = dict(by_epoch=False)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=20, by_epoch=False)
    runner = Runner.from_cfg(cfg)
    runner.train()
    mAP = runner.message_hub.get_scalar('val/coco/bbox_mAP').current()
    return osp.join(cfg.work_dir, 'iter_20.pth'), mAP


def test_random_teacher_stops_training_before_the_first_iteration(tiny_coco, tmp_path):
    cfg = tiny_config(tiny_coco, tmp_path, teacher_ckpt=None)
    cfg.custom_hooks = [dict(type='TeacherCheckHook', num_images=2)]  # a random teacher is slow
    runner = Runner.from_cfg(cfg)
    with pytest.raises(RuntimeError) as err:
        runner.train()
    message = str(err.value)
    assert message.startswith('TeacherCheckHook: the teacher scores coco/bbox_mAP 0.0000 on '
                              '2 validation images')
    chance = runner.message_hub.get_info('teacher_check')['chance/coco/bbox_mAP']
    assert f'chance (its detections with random boxes) scores {chance:.4f}.' in message
    assert 'It must score above max(threshold 0.01, 2.0 x chance) = ' in message
    for cause in ('teacher_ckpt not loaded', 'classes in another order', 'bgr_to_rgb',
                  'input scale', 'threshold=0 or remove it from custom_hooks'):
        assert cause in message
    assert runner.iter == 0 and not list(tmp_path.glob('*.pth'))


def test_trained_teacher_passes_with_the_metrics_mmengine_measures(tiny_coco, tmp_path,
                                                                    trained_teacher):
    ckpt, val_map = trained_teacher
    teacher_config = osp.join(CONFIGS, 'tiny_faster_rcnn.py')
    runner = Runner.from_cfg(
        tiny_config(tiny_coco, tmp_path, teacher_config=teacher_config, teacher_ckpt=ckpt))
    runner.train()
    assert runner.iter == 1
    check = runner.message_hub.get_info('teacher_check')
    assert val_map >= 0.01
    assert check['coco/bbox_mAP'] == pytest.approx(val_map, abs=1e-4)
    assert check['num_images'] == 6 and check['dets_per_img'] > 0
    assert check['coco/bbox_mAP'] > 2 * check['chance/coco/bbox_mAP']


def test_threshold_zero_trains_even_a_random_teacher(tiny_coco, tmp_path):
    cfg = tiny_config(tiny_coco, tmp_path, teacher_ckpt=None)
    cfg.custom_hooks = [dict(type='TeacherCheckHook', threshold=0, num_images=2)]
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 1


def test_num_images_bounds_the_check_and_resolution_follows_the_student(tiny_coco, tmp_path):
    """Two images; with student_downsample=2 the teacher sees them at twice the scale."""
    cfg = tiny_config(tiny_coco, tmp_path, teacher_ckpt=None, student_downsample=2)
    cfg.model.data_preprocessor = dict(cfg.model.data_preprocessor, pad_size_divisor=64)
    runner = Runner.from_cfg(cfg)
    model = runner.model
    shapes, val_step = [], model.teacher.val_step

    def record(data):
        shapes.extend(tuple(img.shape[-2:]) for img in data['inputs'])
        return val_step(data)

    model.teacher.val_step = record
    metrics = TeacherCheckHook(num_images=2, threshold=0).evaluate(runner, model)
    assert metrics['num_images'] == 2 and len(shapes) == 2
    assert all(shape == (192, 256) for shape in shapes)  # the val pipeline's 128x96, x2


def test_no_validation_split_is_a_clear_error(tiny_coco, tmp_path):
    cfg = tiny_config(tiny_coco, tmp_path, teacher_ckpt=None)
    cfg.val_dataloader = cfg.val_evaluator = cfg.val_cfg = None
    with pytest.raises(ValueError, match=r'has none \(val_dataloader, val_evaluator\): add '
                       r"one, or remove dict\(type='TeacherCheckHook'\) from custom_hooks"):
        Runner.from_cfg(cfg).train()


def test_a_detector_without_teacher_is_refused(tiny_coco, tmp_path):
    cfg = tiny_config(tiny_coco, tmp_path)
    cfg.model = Config.fromfile(osp.join(CONFIGS, 'tiny_faster_rcnn.py')).model
    with pytest.raises(TypeError, match='needs a distillation model with a teacher, got '
                       'FasterRCNN'):
        Runner.from_cfg(copy.deepcopy(cfg)).train()


def write_large_objects(root: str, num_images: int = 12, size=(96, 128), seed: int = 0) -> dict:
    """One class, one filled rectangle per image covering 85-95% of each side."""
    import cv2

    rng = np.random.RandomState(seed)
    h, w = size
    images, annotations = [], []
    for img_id in range(1, num_images + 1):
        img = rng.randint(0, 60, (h, w, 3)).astype(np.uint8)
        bw, bh = int(rng.uniform(0.85, 0.95) * w), int(rng.uniform(0.85, 0.95) * h)
        x, y = rng.randint(0, w - bw + 1), rng.randint(0, h - bh + 1)
        color = tuple(int(c) for c in rng.randint(120, 255, 3))
        cv2.rectangle(img, (x, y), (x + bw - 1, y + bh - 1), color, -1)
        annotations.append(dict(id=img_id, image_id=img_id, category_id=1,
                                bbox=[x, y, bw, bh], area=bw * bh, iscrowd=0))
        cv2.imwrite(osp.join(root, f'{img_id:04d}.png'), img)
        images.append(dict(id=img_id, file_name=f'{img_id:04d}.png', height=h, width=w))
    with open(osp.join(root, 'ann.json'), 'w') as f:
        json.dump(dict(images=images, annotations=annotations,
                       categories=[dict(id=1, name='object')]), f)
    return dict(data_root=root + '/', ann_file='ann.json')


@pytest.fixture(scope='module')
def large_objects(tmp_path_factory):
    """The data, a one-class teacher config (up to 100 detections per image, as mmdet's), and
    that teacher trained 20 iterations on the data."""
    root = tmp_path_factory.mktemp('large_objects')
    data = write_large_objects(str(root))
    teacher_config = str(root / 'teacher.py')
    with open(teacher_config, 'w') as f:
        f.write(f"_base_ = {osp.join(CONFIGS, 'tiny_teacher_faster_rcnn.py')!r}\n"
                'model = dict(roi_head=dict(bbox_head=dict(num_classes=1)), test_cfg=dict(\n'
                '    rpn=dict(nms_pre=1000, max_per_img=300), rcnn=dict(max_per_img=100)))\n')
    cfg = one_class(Config.fromfile(teacher_config), data, root / 'teacher')
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=20)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.optim_wrapper = dict(optimizer=dict(type='AdamW', lr=0.002, weight_decay=0.05))
    cfg.param_scheduler = []
    cfg.log_processor = dict(by_epoch=False)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=20, by_epoch=False)
    Runner.from_cfg(cfg).train()
    return dict(data, teacher_config=teacher_config, trained=str(root / 'teacher' / 'iter_20.pth'))


def one_class(cfg: Config, data: dict, work_dir) -> Config:
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.update(data_root=data['data_root'], metainfo=dict(classes=('object',)))
    for key in ('val_evaluator', 'test_evaluator'):
        cfg[key].ann_file = data['data_root'] + data['ann_file']
    cfg.work_dir = str(work_dir)
    cfg.randomness = dict(seed=0)
    return cfg


def large_objects_kd(large_objects, work_dir, teacher_ckpt, **hook) -> Config:
    cfg = one_class(Config.fromfile(osp.join(CONFIGS, 'tiny_kd_faster_rcnn.py')), large_objects,
                    work_dir)
    cfg.model.update(roi_head=dict(bbox_head=dict(num_classes=1)),
                     teacher_config=large_objects['teacher_config'], teacher_ckpt=teacher_ckpt)
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=1, val_interval=10)
    cfg.log_processor = dict(by_epoch=False)
    cfg.custom_hooks = [dict(type='TeacherCheckHook', **hook)]
    return cfg


def test_random_teacher_on_large_objects_passes_a_fixed_bar_but_not_chance(large_objects,
                                                                           tmp_path):
    """A fixed bar below the random teacher's score (0.001) would let it train; chance, its
    100 detections per image with random boxes, scores as much, and it stops."""
    runner = Runner.from_cfg(large_objects_kd(large_objects, tmp_path, None, threshold=0.001))
    with pytest.raises(RuntimeError) as err:
        runner.train()
    check = runner.message_hub.get_info('teacher_check')
    teacher, chance = check['coco/bbox_mAP'], check['chance/coco/bbox_mAP']
    assert check['dets_per_img'] > 90
    assert teacher > 0.001 and 0.001 < chance and teacher <= 2 * chance
    assert f'scores coco/bbox_mAP {teacher:.4f} on 12 validation images' in str(err.value)
    assert (f'chance (its detections with random boxes) scores {chance:.4f}. It must score '
            f'above max(threshold 0.001, 2.0 x chance) = {2 * chance:.4f}') in str(err.value)
    assert runner.iter == 0


def test_trained_teacher_on_large_objects_passes_well_above_chance(large_objects, tmp_path):
    runner = Runner.from_cfg(large_objects_kd(large_objects, tmp_path, large_objects['trained']))
    runner.train()
    check = runner.message_hub.get_info('teacher_check')
    assert runner.iter == 1
    assert check['chance/coco/bbox_mAP'] > 0  # random boxes do hit large objects
    assert check['coco/bbox_mAP'] > 10 * check['chance/coco/bbox_mAP']
    (log_file,) = glob.glob(str(tmp_path / '*' / '*.log'))
    log = open(log_file).read()
    assert (f"teacher/coco/bbox_mAP: {check['coco/bbox_mAP']:.4f}" in log
            and f"chance/coco/bbox_mAP: {check['chance/coco/bbox_mAP']:.4f}" in log)


METRICS = {'coco/bbox_mAP': 0.015, 'chance/coco/bbox_mAP': 0.008, 'num_images': 12.0,
           'dets_per_img': 99.5}


@pytest.mark.parametrize('teacher,chance,options,stops', [
    (0.015, 0.008, {}, True),  # 0.015 <= max(0.01, 2 x 0.008) = 0.016
    (0.017, 0.008, {}, False),
    (0.015, 0.008, dict(chance_factor=0), False),  # the fixed threshold alone
    (0.012, 0.004, {}, False),  # max(0.01, 0.008) = 0.01
    (0.009, 0.0, {}, True),  # below the threshold
    (0.0, 0.008, dict(threshold=0), False),  # the check is off
])
def test_the_rule_is_the_larger_of_threshold_and_twice_chance(teacher, chance, options, stops):
    hook = TeacherCheckHook(**options)
    metrics = dict(METRICS, **{'coco/bbox_mAP': teacher, 'chance/coco/bbox_mAP': chance})
    if not stops:
        hook.judge(metrics)
        return
    bar = max(hook.threshold, 2 * chance)
    with pytest.raises(RuntimeError, match=(
            rf'scores coco/bbox_mAP {teacher:.4f} on 12 validation images \(99.5 detections '
            rf'per image with score >= 0.3\); chance \(its detections with random boxes\) '
            rf'scores {chance:.4f}. It must score above max\(threshold 0.01, 2.0 x chance\) = '
            rf'{bar:.4f}')):
        hook.judge(metrics)
