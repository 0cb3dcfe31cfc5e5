"""TeacherCheckHook: a broken teacher stops training before the first iteration, with the
measured value and the likely causes; a trained one passes and its metrics are logged."""
import copy
import os.path as osp

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
    assert 'below the threshold 0.01' in message
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
