# Copyright (c) mmkd contributors. All rights reserved.
"""Soft-label cross entropy with a weighted background class (Chen et al. 2017, Eq. 2-3)."""
from typing import Optional

import torch.nn as nn
import torch.nn.functional as F
from mmdet.models.losses.utils import weighted_loss
from mmdet.registry import MODELS
from torch import Tensor


@weighted_loss
def kd_soft_cross_entropy(pred: Tensor, soft_label: Tensor, T: float = 1.0,
                          bg_weight: float = 1.5, use_sigmoid: bool = False) -> Tensor:
    r"""Per-sample weighted soft cross entropy, Eq. (3) of the paper.

    Softmax (background last, mmdet's convention):
    :math:`L = -T^2 \sum_c w_c\, \mathrm{softmax}(t/T)_c \log \mathrm{softmax}(s/T)_c`
    with :math:`w_{bg} = ` ``bg_weight`` and :math:`w_c = 1` otherwise.
    Sigmoid (a single foreground logit, e.g. the RPN's objectness):
    :math:`L = -T^2 (p_t \log p_s + w_{bg} (1 - p_t) \log(1 - p_s))`, :math:`p = \sigma(z/T)`.

    Args:
        pred (Tensor): Student logits, (N, C + 1); (N,) or (N, 1) with ``use_sigmoid``.
        soft_label (Tensor): Teacher logits of the same shape; no gradient flows into them.
        T (float): Temperature. Defaults to 1.0 (best in the paper).
        bg_weight (float): Weight of the background class. Defaults to 1.5.
        use_sigmoid (bool): Binary (sigmoid) form. Defaults to False.

    Returns:
        Tensor: Loss per sample, shape (N,).
    """
    assert pred.shape == soft_label.shape, \
        f'student logits {tuple(pred.shape)} and teacher logits ' \
        f'{tuple(soft_label.shape)} differ in shape'
    pred = pred.float() / T
    soft_label = soft_label.detach().float() / T
    if use_sigmoid:
        pred, soft_label = pred.reshape(-1), soft_label.reshape(-1)
        p_t = soft_label.sigmoid()
        loss = -(p_t * F.logsigmoid(pred) + bg_weight * (1 - p_t) * F.logsigmoid(-pred))
    else:
        class_weight = pred.new_ones(pred.size(1))
        class_weight[-1] = bg_weight
        p_t = F.softmax(soft_label, dim=1)
        loss = -(class_weight * p_t * F.log_softmax(pred, dim=1)).sum(dim=1)
    return loss * (T * T)


@MODELS.register_module()
class KDSoftCrossEntropyLoss(nn.Module):
    """Soft classification loss of the student against the teacher, L_soft in Eq. (2).

    The paper mixes it with the hard loss as ``mu * L_hard + (1 - mu) * L_soft``: the
    detector scales the student's own classification losses by ``mu`` and this loss's
    ``loss_weight`` is ``1 - mu``.

    Args:
        T (float): Temperature of both softmaxes; the loss is scaled by ``T**2`` so its
            gradient does not shrink with T. Defaults to 1.0 (best in the paper).
        bg_weight (float): Weight of the background class w_bg, 1.5 in the paper (Sec.
            3.2): background dominates the RoIs, so errors on it count more. Any w_bg
            other than 1 moves the loss's minimum away from the teacher: over a softmax,
            -sum_c w_c P_t^c log P_s^c is smallest at P_s^c proportional to w_c P_t^c
            (sigmoid: p_s = p_t / (p_t + w_bg (1 - p_t))), so 1.5 teaches a background
            1.5 times likelier, against the objects, than the teacher predicts; 1.0 makes
            it a cross entropy, smallest at the teacher. 1.0 was no measured win
            (docs/method.md), so the paper's 1.5 stays. Defaults to 1.5.
        use_sigmoid (bool): Binary form for a single objectness logit. Defaults to False.
        reduction (str): 'none', 'mean' or 'sum'. Defaults to 'mean'.
        loss_weight (float): ``1 - mu``. Defaults to 0.5.
    """

    def __init__(self, T: float = 1.0, bg_weight: float = 1.5, use_sigmoid: bool = False,
                 reduction: str = 'mean', loss_weight: float = 0.5) -> None:
        super().__init__()
        if T <= 0:
            raise ValueError(f'KDSoftCrossEntropyLoss: temperature T must be > 0, got {T}')
        self.T = T
        self.bg_weight = bg_weight
        self.use_sigmoid = use_sigmoid
        self.reduction = reduction
        self.loss_weight = loss_weight

    def forward(self, pred: Tensor, soft_label: Tensor, weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None) -> Tensor:
        """Forward function.

        Args:
            pred (Tensor): Student logits, (N, C + 1), or (N,) / (N, 1) with sigmoid.
            soft_label (Tensor): Teacher logits, same shape as ``pred``.
            weight (Tensor, optional): Per-sample weight, shape (N,).
            avg_factor (float, optional): Divide the weighted sum by this instead of N.
            reduction_override (str, optional): Overrides ``self.reduction``.

        Returns:
            Tensor: The loss.
        """
        reduction = reduction_override if reduction_override else self.reduction
        if pred.numel() == 0:  # no sample: a zero that keeps the graph, not a NaN mean
            return pred.sum() * 0
        loss = kd_soft_cross_entropy(
            pred, soft_label, weight, reduction=reduction, avg_factor=avg_factor, T=self.T,
            bg_weight=self.bg_weight, use_sigmoid=self.use_sigmoid)
        return self.loss_weight * loss
