"""TeacherValHook: the teacher's metrics come from the teacher's own predictions."""
import os.path as osp

import pytest
import torch
from mmdet.registry import METRICS
from mmengine.config import Config
from mmengine.evaluator import BaseMetric
from mmengine.runner import Runner

import mmkd  # noqa: F401

KD_CFG = osp.join(osp.dirname(__file__), 'configs', 'tiny_kd_faster_rcnn.py')


@METRICS.register_module(force=True)
class ScoreSumMetric(BaseMetric):
    """Sum of all predicted scores: a value that tells models apart even at 0 mAP."""

    def process(self, data_batch, data_samples):
        self.results.extend(float(s['pred_instances']['scores'].sum()) for s in data_samples)

    def compute_metrics(self, results):
        return dict(score_sum=sum(results))


def kd_runner(tiny_coco, work_dir, hooks):
    cfg = Config.fromfile(KD_CFG)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = tiny_coco['data_root']
    cfg.val_evaluator = cfg.test_evaluator = dict(type='ScoreSumMetric')
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=1, val_interval=1)
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=100)
    cfg.custom_hooks = hooks
    cfg.work_dir = work_dir
    cfg.log_processor = dict(by_epoch=False)
    return Runner.from_cfg(cfg)


def test_teacher_metrics_are_those_of_the_teachers_predictions(tiny_coco, tmp_path):
    torch.manual_seed(0)
    runner = kd_runner(tiny_coco, str(tmp_path), [dict(type='TeacherValHook')])
    runner.train()
    logged = runner.message_hub.get_scalar('teacher/score_sum').current()
    teacher = runner.model.teacher
    expected = 0.0
    with torch.no_grad():
        for batch in runner.val_loop.dataloader:
            expected += sum(float(s.pred_instances.scores.sum()) for s in teacher.val_step(batch))
    assert expected > 0
    assert logged == pytest.approx(expected, rel=1e-5)
    student = runner.message_hub.get_scalar('val/score_sum').current()
    assert student != pytest.approx(logged, rel=1e-3)  # another model, other scores


def test_refuses_a_model_without_teacher(tiny_coco, tmp_path):
    from mmkd.hooks import TeacherValHook

    class Plain:
        pass

    runner = type('R', (), dict(model=Plain()))()
    with pytest.raises(TypeError, match='needs a distillation model with a teacher'):
        TeacherValHook().after_val_epoch(runner, {})
