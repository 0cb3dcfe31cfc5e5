# Copyright (c) mmkd contributors. All rights reserved.
"""Adaptation layers for hint learning (Chen et al. 2017, Sec. 3.4)."""
from typing import List, Optional, Sequence, Tuple, Union

import torch.nn as nn
import torch.nn.functional as F
from mmdet.registry import MODELS
from mmengine.model import BaseModule
from torch import Tensor


@MODELS.register_module()
class FeatureAdapter(BaseModule):
    """One convolution per hinted level, mapping student channels to the teacher's.

    The paper finds the adaptation layer helps even when the channel counts match.
    It exists only for training: the deployed student does not contain it.

    Args:
        in_channels (int | Sequence[int]): Student channels, one per level or shared.
        out_channels (int | Sequence[int]): Teacher channels, one per level or shared.
        num_levels (int): Number of hinted levels. Defaults to 1.
        kernel_size (int): 1 in the paper. Defaults to 1.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self, in_channels: Union[int, Sequence[int]],
                 out_channels: Union[int, Sequence[int]], num_levels: int = 1,
                 kernel_size: int = 1, init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        in_channels = _per_level(in_channels, num_levels, 'in_channels')
        out_channels = _per_level(out_channels, num_levels, 'out_channels')
        self.convs = nn.ModuleList(
            nn.Conv2d(c_in, c_out, kernel_size, padding=kernel_size // 2)
            for c_in, c_out in zip(in_channels, out_channels))

    def forward(self, feats: Sequence[Tensor],
                target_sizes: Optional[Sequence[Tuple[int, int]]] = None) -> List[Tensor]:
        """Adapt each level; resize it where the teacher's map has another size.

        Args:
            feats (Sequence[Tensor]): Student maps, each (N, C_in, H, W).
            target_sizes (Sequence[tuple], optional): Teacher (H, W) per level.

        Returns:
            list[Tensor]: Adapted maps, each (N, C_out, H_t, W_t).
        """
        if len(feats) != len(self.convs):
            raise ValueError(f'FeatureAdapter has {len(self.convs)} levels, got '
                             f'{len(feats)} feature maps')
        outs = [conv(feat) for conv, feat in zip(self.convs, feats)]
        if target_sizes is not None:
            outs = [
                out if tuple(out.shape[-2:]) == tuple(size) else F.interpolate(
                    out, size=tuple(size), mode='bilinear', align_corners=False)
                for out, size in zip(outs, target_sizes)
            ]
        return outs


def _per_level(channels: Union[int, Sequence[int]], num_levels: int, name: str) -> List[int]:
    if isinstance(channels, int):
        return [channels] * num_levels
    if len(channels) != num_levels:
        raise ValueError(f'FeatureAdapter: {name} has {len(channels)} entries for '
                         f'{num_levels} levels')
    return list(channels)
