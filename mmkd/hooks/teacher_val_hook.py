"""Evaluate the frozen teacher in the validation loop: a teacher at 0 mAP means it did not load."""
import copy
from typing import Dict, Optional

import torch
from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner


@HOOKS.register_module()
class TeacherValHook(Hook):
    """Run the validation set through the teacher too, and log its metrics as ``teacher/*``.

    Off by default; switch it on with
    ``custom_hooks = [..., dict(type='TeacherValHook')]``. The teacher sees the student's
    validation pipeline (for ``student_downsample > 1``, the student's smaller scale).

    Args:
        every_val (bool): Evaluate at every validation, not only the first. The teacher is
            frozen, so its metrics do not change. Defaults to False.
    """

    priority = 'LOW'

    def __init__(self, every_val: bool = False) -> None:
        self.every_val = every_val
        self._evaluated = False

    def after_val_epoch(self, runner: Runner,
                        metrics: Optional[Dict[str, float]] = None) -> None:
        if self._evaluated and not self.every_val:
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if not hasattr(model, 'teacher'):
            raise TypeError(f'TeacherValHook needs a distillation model with a teacher, got '
                            f'{type(model).__name__}')
        teacher_metrics = self.evaluate(runner, model.teacher)
        for name, value in teacher_metrics.items():
            runner.message_hub.update_scalar(f'teacher/{name}', value)
        runner.logger.info('teacher: ' + ', '.join(
            f'{name}: {value:.4f}' if isinstance(value, float) else f'{name}: {value}'
            for name, value in teacher_metrics.items()))
        self._evaluated = True

    @staticmethod
    def evaluate(runner: Runner, teacher: torch.nn.Module) -> Dict[str, float]:
        """The validation evaluator's metrics for ``teacher`` on the validation set."""
        dataloader = runner.val_loop.dataloader
        evaluator = runner.build_evaluator(copy.deepcopy(runner.cfg.val_evaluator))
        evaluator.dataset_meta = dataloader.dataset.metainfo
        for data_batch in dataloader:
            with torch.no_grad():
                outputs = teacher.val_step(data_batch)
            evaluator.process(data_samples=outputs, data_batch=data_batch)
        return evaluator.evaluate(len(dataloader.dataset))
