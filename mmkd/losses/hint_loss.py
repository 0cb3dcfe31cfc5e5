# Copyright (c) mmkd contributors. All rights reserved.
"""Hint loss between adapted student features and teacher features (Chen et al. 2017, Eq. 6)."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.registry import MODELS
from torch import Tensor


def hint_loss(pred: Tensor, target: Tensor, loss_type: str = 'l2',
              normalize: bool = False) -> Tensor:
    r"""Mean distance between adapted student and teacher features, Eq. (6).

    ``l2``: :math:`\mathrm{mean}(V - Z)^2`, ``l1``: :math:`\mathrm{mean}|V - Z|`. With
    ``normalize`` the distance is divided by the teacher's own magnitude,
    :math:`\mathrm{mean}\,Z^2` (``l1``: :math:`\mathrm{mean}|Z|`), taken without gradient:
    the share of the teacher's feature the student misses, 1 for an all-zero student.

    Args:
        pred (Tensor): Adapted student feature map, (N, C, H, W).
        target (Tensor): Teacher feature map, (N, C, H, W); no gradient flows into it.
        loss_type (str): 'l2' or 'l1'. Defaults to 'l2'.
        normalize (bool): Divide by the teacher's magnitude. Defaults to False.

    Returns:
        Tensor: The loss, a scalar.
    """
    target = target.detach().float()
    pred = pred.float()
    if loss_type == 'l2':
        loss = F.mse_loss(pred, target)
        scale = target.pow(2).mean() if normalize else None
    else:
        loss = F.l1_loss(pred, target)
        scale = target.abs().mean() if normalize else None
    if scale is not None:
        loss = loss / scale.clamp(min=torch.finfo(scale.dtype).eps)
    return loss


@MODELS.register_module()
class HintLoss(nn.Module):
    """L_hint between adapted student and teacher features; gamma is ``loss_weight``.

    The default is the paper's Eq. (6), the plain distance, averaged over the elements of
    each hinted FPN level and then over the levels: its scale is the teacher's features'.
    ``normalize=True`` divides by the teacher's mean Z^2 (L1: mean |Z|) per level, so the
    term starts near gamma whatever the teacher; for teachers with very large features
    (the demo's). docs/method.md has both measured.

    Args:
        loss_type (str): 'l2' (squared distance, the paper's default) or 'l1' (absolute
            distance, its optional variant). Defaults to 'l2'.
        normalize (bool): Divide by the teacher's magnitude (see above). Defaults to False.
        loss_weight (float): gamma in Eq. (1). Defaults to 0.5.
    """

    def __init__(self, loss_type: str = 'l2', normalize: bool = False,
                 loss_weight: float = 0.5) -> None:
        super().__init__()
        if loss_type not in ('l1', 'l2'):
            raise ValueError(f"HintLoss: loss_type must be 'l1' or 'l2', got {loss_type!r}")
        self.loss_type = loss_type
        self.normalize = normalize
        self.loss_weight = loss_weight

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        """Forward function.

        Args:
            pred (Tensor): Adapted student feature map, (N, C, H, W).
            target (Tensor): Teacher feature map, (N, C, H, W); no gradient flows into it.

        Returns:
            Tensor: The weighted loss.
        """
        if pred.shape != target.shape:
            raise ValueError(f'HintLoss: student feature {tuple(pred.shape)} and teacher '
                             f'feature {tuple(target.shape)} differ in shape')
        return self.loss_weight * hint_loss(pred, target, self.loss_type, self.normalize)
