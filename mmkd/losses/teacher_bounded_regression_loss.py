# Copyright (c) mmkd contributors. All rights reserved.
"""Teacher-bounded regression loss (Chen et al. 2017, Eq. 4-5)."""
from typing import Optional

import torch.nn as nn
from mmdet.models.losses.utils import weighted_loss
from mmdet.registry import MODELS
from torch import Tensor


@weighted_loss
def teacher_bounded_regression(pred: Tensor, target: Tensor, teacher_pred: Tensor,
                               margin: float = 0.0) -> Tensor:
    r"""Per-sample bounded L2, Eq. (4): the teacher is an upper bound, not a target.

    :math:`L_b = \|R_s - y\|^2` if :math:`\|R_s - y\|^2 + m > \|R_t - y\|^2`, else 0.

    Args:
        pred (Tensor): Student regression, (N, 4).
        target (Tensor): Ground-truth regression target, (N, 4).
        teacher_pred (Tensor): Teacher regression, (N, 4); no gradient flows into it.
        margin (float): m in Eq. (4). Defaults to 0.0.

    Returns:
        Tensor: Loss per sample, shape (N,).
    """
    assert pred.shape == target.shape == teacher_pred.shape, \
        f'student {tuple(pred.shape)}, teacher {tuple(teacher_pred.shape)} and target ' \
        f'{tuple(target.shape)} regressions differ in shape'
    err_student = (pred.float() - target.detach().float()).pow(2).sum(dim=-1)
    # A mask, not a branch: no host-device sync on the GPU.
    return err_student * bound_active(pred, target, teacher_pred, margin)


def bound_active(pred: Tensor, target: Tensor, teacher_pred: Tensor,
                 margin: float = 0.0) -> Tensor:
    r"""Where the bound of Eq. (4) is active: :math:`\|R_s - y\|^2 + m > \|R_t - y\|^2`.

    Args:
        pred (Tensor): Student regression, (N, 4).
        target (Tensor): Ground-truth regression target, (N, 4).
        teacher_pred (Tensor): Teacher regression, (N, 4).
        margin (float): m in Eq. (4). Defaults to 0.0.

    Returns:
        Tensor: Boolean mask, (N,); no gradient.
    """
    target = target.detach().float()
    err_student = (pred.detach().float() - target).pow(2).sum(dim=-1)
    err_teacher = (teacher_pred.detach().float() - target).pow(2).sum(dim=-1)
    return err_student + margin > err_teacher


@MODELS.register_module()
class TeacherBoundedRegressionLoss(nn.Module):
    """Teacher-bounded regression L_b; the paper's ``nu`` is ``loss_weight`` (Eq. 5).

    The student is pushed towards the ground truth only where it is worse than the
    teacher (by more than ``-margin``); where it is already as good, the loss is 0.
    Apply it to positive samples only, on the regression of the ground-truth class.

    Args:
        margin (float): m in Eq. (4). Defaults to 0.0.
        reduction (str): 'none', 'mean' or 'sum'. Defaults to 'mean'.
        loss_weight (float): nu in Eq. (5). Defaults to 0.5.
    """

    def __init__(self, margin: float = 0.0, reduction: str = 'mean',
                 loss_weight: float = 0.5) -> None:
        super().__init__()
        self.margin = margin
        self.reduction = reduction
        self.loss_weight = loss_weight

    def forward(self, pred: Tensor, teacher_pred: Tensor, target: Tensor,
                weight: Optional[Tensor] = None, avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None) -> Tensor:
        """Forward function.

        Args:
            pred (Tensor): Student regression, (N, 4).
            teacher_pred (Tensor): Teacher regression, (N, 4).
            target (Tensor): Regression target, (N, 4).
            weight (Tensor, optional): Per-sample weight, (N,).
            avg_factor (float | Tensor, optional): Divide the weighted sum by this.
            reduction_override (str, optional): Overrides ``self.reduction``.

        Returns:
            Tensor: The loss.
        """
        reduction = reduction_override if reduction_override else self.reduction
        if pred.numel() == 0:
            return pred.sum() * 0
        loss = teacher_bounded_regression(
            pred, target, weight, reduction=reduction, avg_factor=avg_factor,
            teacher_pred=teacher_pred, margin=self.margin)
        return self.loss_weight * loss
