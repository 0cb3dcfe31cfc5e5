"""Stop training at the first NaN or infinite loss, before anything saves the broken weights."""
import math
from typing import Optional

import torch
from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.runner import EpochBasedTrainLoop, Runner


@HOOKS.register_module()
class StopOnNonFiniteLossHook(Hook):
    """Raise ``FloatingPointError`` at the first iteration with a NaN or infinite loss term.

    The optimizer step of that iteration has already run, so the weights in memory may be
    broken. The hook runs at priority ``HIGH``, before the EMA (``NORMAL``), logger and
    checkpoint (``VERY_LOW``) hooks of the same iteration, and stops the run there: nothing
    saves the broken state, and the last checkpoint on disk stays the last good one, ready for
    ``--resume``. Every term whose name contains ``loss`` is checked, including the total.

    Checking costs no extra device synchronisation: mmengine's ``RuntimeInfoHook`` already reads
    every logged loss value at each iteration.
    """

    priority = 'HIGH'

    def after_train_iter(self,
                         runner: Runner,
                         batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        """Raise if a loss term in ``outputs`` (the logged loss values) is not finite."""
        losses = {
            k: float(v.detach()) if torch.is_tensor(v) else float(v)
            for k, v in (outputs or {}).items() if 'loss' in k
        }
        bad = [k for k, v in losses.items() if not math.isfinite(v)]
        if not bad:
            return
        # The total 'loss' is bad whenever a term is: name the term, it says where to look.
        culprit = next((k for k in bad if k != 'loss'), bad[0])
        values = ', '.join(f'{k}={v:.4g}' for k, v in losses.items())
        last_ckpt = runner.message_hub.get_info('last_ckpt')
        kept = (f'the last good checkpoint is {last_ckpt}, resume from it with --resume'
                if last_ckpt else 'no checkpoint was saved before it')
        where = f'iteration {runner.iter + 1}'
        if isinstance(runner.train_loop, EpochBasedTrainLoop):
            where += f' (epoch {runner.epoch + 1})'
        raise FloatingPointError(
            f'{culprit} is {losses[culprit]} at {where}; training stopped without saving '
            f'this state: {kept}. '
            f'Losses: {values}. Lower the learning rate or the loss weights, or check the data.')
