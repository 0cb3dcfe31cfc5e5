# Copyright (c) mmkd contributors. All rights reserved.
"""Hint loss between adapted student features and teacher features (Chen et al. 2017, Eq. 6)."""
import torch.nn as nn
import torch.nn.functional as F
from mmdet.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class HintLoss(nn.Module):
    """L_hint = ||adapt(V) - Z||, averaged over all elements; gamma is ``loss_weight``.

    Args:
        loss_type (str): 'l2' (mean squared difference, the paper's default) or 'l1'
            (mean absolute difference, its optional variant). Defaults to 'l2'.
        loss_weight (float): gamma in Eq. (1). Defaults to 0.5.
    """

    def __init__(self, loss_type: str = 'l2', loss_weight: float = 0.5) -> None:
        super().__init__()
        if loss_type not in ('l1', 'l2'):
            raise ValueError(f"HintLoss: loss_type must be 'l1' or 'l2', got {loss_type!r}")
        self.loss_type = loss_type
        self.loss_weight = loss_weight

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        """Forward function.

        Args:
            pred (Tensor): Adapted student feature map, (N, C, H, W).
            target (Tensor): Teacher feature map, (N, C, H, W); no gradient flows into it.

        Returns:
            Tensor: The loss.
        """
        if pred.shape != target.shape:
            raise ValueError(f'HintLoss: student feature {tuple(pred.shape)} and teacher '
                             f'feature {tuple(target.shape)} differ in shape')
        target = target.detach().float()
        if self.loss_type == 'l2':
            loss = F.mse_loss(pred.float(), target)
        else:
            loss = F.l1_loss(pred.float(), target)
        return self.loss_weight * loss
