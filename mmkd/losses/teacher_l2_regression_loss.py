# Copyright (c) mmkd contributors. All rights reserved.
"""Plain L2 to the teacher's regression: mmkd's default distillation regression term.

Chen et al. (2017) bound the regression by the teacher (Eq. 4) because a wrong teacher can
mislead a plain L2; together with mmkd's other two defaults the plain L2 did better
(docs/method.md), so mmkd uses it by default and keeps the paper's
:class:`TeacherBoundedRegressionLoss` in ``kd_chen2017_paper``.
"""
from typing import Optional

import torch.nn as nn
from mmdet.models.losses.utils import weighted_loss
from mmdet.registry import MODELS
from torch import Tensor


@weighted_loss
def teacher_l2_regression(pred: Tensor, teacher_pred: Tensor) -> Tensor:
    r"""Per-sample squared distance to the teacher, :math:`\|R_s - R_t\|^2`.

    The naive alternative to Eq. (4) that the paper's ablation compares against: the
    teacher's regression is the target, wherever the teacher is right or wrong.

    Args:
        pred (Tensor): Student regression, (N, 4).
        teacher_pred (Tensor): Teacher regression, (N, 4); no gradient flows into it.

    Returns:
        Tensor: Loss per sample, shape (N,).
    """
    assert pred.shape == teacher_pred.shape, \
        f'student {tuple(pred.shape)} and teacher {tuple(teacher_pred.shape)} regressions ' \
        'differ in shape'
    return (pred.float() - teacher_pred.detach().float()).pow(2).sum(dim=-1)


@MODELS.register_module()
class TeacherL2RegressionLoss(nn.Module):
    """L2 between the student's and the teacher's regression, ignoring the ground truth.

    A drop-in replacement for :class:`TeacherBoundedRegressionLoss` (same ``forward``
    signature): mmkd's default for ``loss_kd_bbox`` and ``loss_rpn_kd_bbox``, the bounded
    loss being the paper's choice (``kd_chen2017_paper``).

    Args:
        reduction (str): 'none', 'mean' or 'sum'. Defaults to 'mean'.
        loss_weight (float): nu in Eq. (5). Defaults to 0.5.
    """

    def __init__(self, reduction: str = 'mean', loss_weight: float = 0.5) -> None:
        super().__init__()
        self.reduction = reduction
        self.loss_weight = loss_weight

    def forward(self, pred: Tensor, teacher_pred: Tensor, target: Optional[Tensor] = None,
                weight: Optional[Tensor] = None, avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None) -> Tensor:
        """Forward function.

        Args:
            pred (Tensor): Student regression, (N, 4).
            teacher_pred (Tensor): Teacher regression, (N, 4).
            target (Tensor, optional): Regression target, (N, 4); unused, accepted so the
                detector calls both regression losses alike.
            weight (Tensor, optional): Per-sample weight, (N,).
            avg_factor (float | Tensor, optional): Divide the weighted sum by this.
            reduction_override (str, optional): Overrides ``self.reduction``.

        Returns:
            Tensor: The loss.
        """
        reduction = reduction_override if reduction_override else self.reduction
        if pred.numel() == 0:
            return pred.sum() * 0
        loss = teacher_l2_regression(
            pred, teacher_pred, weight, reduction=reduction, avg_factor=avg_factor)
        return self.loss_weight * loss
