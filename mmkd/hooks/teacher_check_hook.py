# Copyright (c) mmkd contributors. All rights reserved.
"""Score the frozen teacher before the first iteration: a broken teacher stops training."""
import copy
from typing import Dict, List

import torch
from mmdet.registry import HOOKS
from mmengine.dist import all_reduce
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner

LIKELY_CAUSES = (
    'teacher_ckpt not loaded or not the teacher_config\'s architecture; classes in another '
    'order than the dataset\'s; normalisation or channel order (mean, std, bgr_to_rgb of the '
    'teacher\'s data_preprocessor); input scale (the Resize of the pipeline, '
    'student_downsample)')


@HOOKS.register_module()
class TeacherCheckHook(Hook):
    """Before training, test the teacher on a few validation images; stop if it is broken.

    The teacher runs as the detector uses it: its own ``data_preprocessor`` (normalisation,
    channel order) and its resolution (the validation pipeline's ``Resize`` scaled by
    ``student_downsample``). Its metrics are logged as ``teacher/<metric>``, with
    ``teacher/dets_per_img``, the mean number of detections scoring at least ``score_thr``.
    Below ``threshold`` it raises before the first iteration, naming the value and the likely
    causes. It runs at every start, ``--resume`` included. Under DDP every rank tests its
    share of the images and the evaluator gathers them.

    Args:
        num_images (int): Validation images tested (the first ones). Defaults to 50.
        threshold (float): Lowest acceptable ``metric``; 0 never stops. Defaults to 0.01
            (a teacher at about 0 mAP: random, or loaded wrongly).
        metric (str): The evaluator's key compared. Defaults to ``'coco/bbox_mAP'``.
        score_thr (float): Score of a counted detection. Defaults to 0.3.
    """

    priority = 'LOW'

    def __init__(self, num_images: int = 50, threshold: float = 0.01,
                 metric: str = 'coco/bbox_mAP', score_thr: float = 0.3) -> None:
        if num_images < 1:
            raise ValueError(f'TeacherCheckHook: num_images must be >= 1, got {num_images}')
        self.num_images = num_images
        self.threshold = threshold
        self.metric = metric
        self.score_thr = score_thr

    def before_train(self, runner: Runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if not hasattr(model, 'teacher'):
            raise TypeError('TeacherCheckHook needs a distillation model with a teacher, got '
                            f'{type(model).__name__}: remove it from custom_hooks')
        if not runner.cfg.get('val_dataloader') or not runner.cfg.get('val_evaluator'):
            raise ValueError(
                'TeacherCheckHook scores the teacher on the validation split, and this config '
                'has none (val_dataloader, val_evaluator): add one, or remove '
                "dict(type='TeacherCheckHook') from custom_hooks to train without the check")
        metrics = self.evaluate(runner, model)
        runner.message_hub.update_info('teacher_check', metrics)
        runner.visualizer.add_scalars({f'teacher/{k}': v for k, v in metrics.items()}, step=0)
        runner.logger.info(f'TeacherCheckHook, {self.num_images} validation images: ' +
                           ', '.join(f'teacher/{k}: {v:.4f}' for k, v in metrics.items()))
        value = metrics.get(self.metric)
        if value is None:
            raise KeyError(f'TeacherCheckHook: the evaluator gives no {self.metric!r} '
                           f'(it gives {sorted(metrics)}): set metric=')
        if value < self.threshold:
            raise RuntimeError(
                f'TeacherCheckHook: the teacher scores {self.metric} {value:.4f} on '
                f"{metrics['num_images']:.0f} validation images "
                f"({metrics['dets_per_img']:.1f} detections per image with score >= "
                f'{self.score_thr}), below the threshold {self.threshold}: it would teach '
                f'noise. Likely causes: {LIKELY_CAUSES}. To train anyway, set the hook\'s '
                'threshold=0 or remove it from custom_hooks.')

    def evaluate(self, runner: Runner, model: torch.nn.Module) -> Dict[str, float]:
        """The evaluator's metrics of the teacher on the first ``num_images`` images, plus
        ``dets_per_img`` and ``num_images``."""
        loader_cfg = copy.deepcopy(runner.cfg.val_dataloader)
        dataset = loader_cfg.dataset
        scale = getattr(model, 'student_downsample', 1)
        for transform in dataset.get('pipeline', []):
            if transform.get('type') == 'Resize' and scale != 1:
                transform.scale = tuple(int(s * scale) for s in transform.scale)
        dataset.indices = self.num_images
        dataloader = runner.build_dataloader(loader_cfg, seed=runner.seed)
        evaluator = runner.build_evaluator(copy.deepcopy(runner.cfg.val_evaluator))
        evaluator.dataset_meta = dataloader.dataset.metainfo
        _restrict_to(evaluator, _img_ids(dataloader.dataset))
        num_dets, num_imgs = 0, 0
        with torch.no_grad():
            for data_batch in dataloader:
                outputs = model.teacher.val_step(data_batch)
                evaluator.process(data_samples=outputs, data_batch=data_batch)
                num_dets += sum(int((out.pred_instances.scores >= self.score_thr).sum())
                                for out in outputs)
                num_imgs += len(outputs)
        size = len(dataloader.dataset)
        metrics = evaluator.evaluate(size)
        counts = torch.tensor([num_dets, num_imgs], dtype=torch.float64)
        all_reduce(counts, op='sum')  # a no-op without DDP
        metrics = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))}
        metrics.update(dets_per_img=float(counts[0] / counts[1].clamp(min=1)),
                       num_images=float(size))
        return metrics


def _img_ids(dataset) -> List[int]:
    return [dataset.get_data_info(i)['img_id'] for i in range(len(dataset))]


def _restrict_to(evaluator, img_ids: List[int]) -> None:
    """Score only the images tested: CocoMetric otherwise counts every image of its
    annotation file, and the untested ones as missed."""
    for metric in evaluator.metrics:
        if hasattr(metric, 'img_ids'):
            metric.img_ids = img_ids
