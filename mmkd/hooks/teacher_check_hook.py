# Copyright (c) mmkd contributors. All rights reserved.
"""Score the frozen teacher before the first iteration against what chance scores on the same
images: a broken teacher stops training."""
import copy
import logging
import zlib
from typing import Dict, List

import torch
from mmdet.registry import HOOKS
from mmengine.dist import all_reduce
from mmengine.hooks import Hook
from mmengine.logging import MMLogger
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
    ``student_downsample``). Where objects are large a random teacher overlaps them by
    chance and can pass a fixed threshold, so the same evaluator also scores chance: the
    teacher's detections, scores and classes kept, with boxes drawn uniformly at random in
    the image (the mean of ``chance_draws`` seeded draws). The teacher passes when
    ``metric > max(threshold, chance_factor * chance)``. The log gives ``teacher/<metric>``,
    ``chance/<metric>`` and ``teacher/dets_per_img`` (detections scoring at least
    ``score_thr``). It runs at every start, ``--resume`` included; under DDP every rank
    tests its share of the images and the evaluator gathers them. Why uniform boxes, and
    the measurements behind the rule: ``docs/teacher_check.md``.

    Args:
        num_images (int): Validation images tested (the first ones). Defaults to 50.
        threshold (float): Lowest acceptable ``metric`` whatever chance scores; 0 never
            stops (the check is off). Defaults to 0.01.
        chance_factor (float): How many times chance's ``metric`` the teacher must exceed;
            0 compares with ``threshold`` alone. Defaults to 2.
        chance_draws (int): Random draws averaged into chance's ``metric``. Defaults to 3.
        metric (str): The evaluator's key compared. Defaults to ``'coco/bbox_mAP'``.
        score_thr (float): Score of a counted detection. Defaults to 0.3.
    """

    priority = 'LOW'

    def __init__(self, num_images: int = 50, threshold: float = 0.01,
                 chance_factor: float = 2.0, chance_draws: int = 3,
                 metric: str = 'coco/bbox_mAP', score_thr: float = 0.3) -> None:
        if num_images < 1 or chance_draws < 1:
            raise ValueError('TeacherCheckHook: num_images and chance_draws must be >= 1, got '
                             f'{num_images} and {chance_draws}')
        self.num_images = num_images
        self.threshold = threshold
        self.chance_factor = chance_factor
        self.chance_draws = chance_draws
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
        runner.visualizer.add_scalars(
            {k if k.startswith('chance/') else f'teacher/{k}': v for k, v in metrics.items()},
            step=0)
        runner.logger.info(
            f'TeacherCheckHook, {self.num_images} validation images: ' + ', '.join(
                f'{k if k.startswith("chance/") else "teacher/" + k}: {v:.4f}'
                for k, v in metrics.items()))
        self.judge(metrics)

    def judge(self, metrics: Dict[str, float]) -> None:
        """Raise ``RuntimeError`` unless ``metrics[metric]`` (the teacher's) is above
        ``max(threshold, chance_factor * metrics['chance/<metric>'])``."""
        value = metrics.get(self.metric)
        if value is None:
            raise KeyError(f'TeacherCheckHook: the evaluator gives no {self.metric!r} '
                           f'(it gives {sorted(metrics)}): set metric=')
        chance = metrics[f'chance/{self.metric}']
        bar = max(self.threshold, self.chance_factor * chance)
        if self.threshold <= 0 or value > bar:
            return
        raise RuntimeError(
            f'TeacherCheckHook: the teacher scores {self.metric} {value:.4f} on '
            f"{metrics['num_images']:.0f} validation images "
            f"({metrics['dets_per_img']:.1f} detections per image with score >= "
            f'{self.score_thr}); chance (its detections with random boxes) scores '
            f'{chance:.4f}. It must score above max(threshold {self.threshold}, '
            f'{self.chance_factor} x chance) = {bar:.4f}: it would teach noise. Likely '
            f'causes: {LIKELY_CAUSES}. To train anyway, set the hook\'s threshold=0 or remove '
            'it from custom_hooks.')

    def evaluate(self, runner: Runner, model: torch.nn.Module) -> Dict[str, float]:
        """The evaluator's metrics of the teacher on the first ``num_images`` images, plus
        ``dets_per_img``, ``num_images`` and ``chance/<metric>``."""
        loader_cfg = copy.deepcopy(runner.cfg.val_dataloader)
        dataset = loader_cfg.dataset
        scale = getattr(model, 'student_downsample', 1)
        for transform in dataset.get('pipeline', []):
            if transform.get('type') == 'Resize' and scale != 1:
                transform.scale = tuple(int(s * scale) for s in transform.scale)
        dataset.indices = self.num_images
        dataloader = runner.build_dataloader(loader_cfg, seed=runner.seed)
        img_ids = _img_ids(dataloader.dataset)
        evaluators = [self._evaluator(runner, dataloader, img_ids)
                      for _ in range(1 + self.chance_draws)]
        num_dets, num_imgs = 0, 0
        with torch.no_grad():
            for data_batch in dataloader:
                outputs = model.teacher.val_step(data_batch)
                evaluators[0].process(data_samples=outputs, data_batch=data_batch)
                for draw, evaluator in enumerate(evaluators[1:]):
                    guesses = [_random_boxes(out, draw) for out in outputs]
                    evaluator.process(data_samples=guesses, data_batch=data_batch)
                num_dets += sum(int((out.pred_instances.scores >= self.score_thr).sum())
                                for out in outputs)
                num_imgs += len(outputs)
        size = len(dataloader.dataset)
        metrics = _numbers(evaluators[0].evaluate(size))
        logger = MMLogger.get_current_instance()
        level = logger.level
        logger.setLevel(logging.WARNING)  # chance's COCO tables would bury the teacher's
        try:
            chance = [_numbers(e.evaluate(size)).get(self.metric, 0.0) for e in evaluators[1:]]
        finally:
            logger.setLevel(level)
        counts = torch.tensor([num_dets, num_imgs], dtype=torch.float64)
        all_reduce(counts, op='sum')  # a no-op without DDP
        metrics.update(dets_per_img=float(counts[0] / counts[1].clamp(min=1)),
                       num_images=float(size))
        metrics[f'chance/{self.metric}'] = sum(chance) / len(chance)
        return metrics

    @staticmethod
    def _evaluator(runner: Runner, dataloader, img_ids: List[int]):
        evaluator = runner.build_evaluator(copy.deepcopy(runner.cfg.val_evaluator))
        evaluator.dataset_meta = dataloader.dataset.metainfo
        _restrict_to(evaluator, img_ids)
        return evaluator


def _random_boxes(data_sample, draw: int) -> dict:
    """``data_sample`` as a dict whose predicted boxes keep their scores and classes but are
    drawn uniformly inside the image (corners uniform); seeded by the draw and the image."""
    boxes = data_sample.pred_instances.bboxes
    height, width = data_sample.ori_shape[:2]
    img_id = data_sample.img_id
    img_key = img_id if isinstance(img_id, int) else zlib.crc32(str(img_id).encode())
    generator = torch.Generator().manual_seed(1_000_003 * draw + img_key)
    corners = torch.rand((len(boxes), 2, 2), generator=generator, dtype=torch.float64)
    corners = corners * torch.tensor([width, height], dtype=torch.float64)
    random_boxes = torch.cat([corners.min(dim=1).values, corners.max(dim=1).values], dim=1)
    sample = data_sample.to_dict()
    sample['pred_instances'] = dict(sample['pred_instances'], bboxes=random_boxes.to(boxes))
    return sample


def _numbers(metrics: dict) -> Dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))}


def _img_ids(dataset) -> List[int]:
    return [dataset.get_data_info(i)['img_id'] for i in range(len(dataset))]


def _restrict_to(evaluator, img_ids: List[int]) -> None:
    """Score only the images tested: CocoMetric otherwise counts every image of its
    annotation file, and the untested ones as missed."""
    for metric in evaluator.metrics:
        if hasattr(metric, 'img_ids'):
            metric.img_ids = img_ids
