# Copyright (c) mmkd contributors. All rights reserved.
"""The pieces of mmdet 3.3's training step that distillation needs to keep, not only use.

``TwoStageDetector.loss`` returns the RPN's and the R-CNN head's losses but drops the anchor
targets and the sampled RoIs that the teacher must be evaluated on; these functions follow
mmdet 3.3.0's code line by line and return what it drops. The detector's tests pin them:
with every distillation term off and mu = 1, the losses equal mmdet's own exactly.
"""
import copy
from typing import List, Sequence, Tuple

import torch
from mmdet.models.utils import images_to_levels, multi_apply, unpack_gt_instances
from mmdet.structures import SampleList
from mmdet.structures.bbox import cat_boxes
from torch import Tensor
from torch.nn import Module


def rpn_loss_and_targets(rpn_head: Module, rpn_outs: Tuple[List[Tensor], List[Tensor]],
                         batch_data_samples: SampleList) -> Tuple[dict, tuple]:
    """The RPN's losses, keeping its targets and anchors.

    Follows ``TwoStageDetector.loss`` (the RPN's one-class labels) and
    ``AnchorHead.loss_by_feat`` (which ``RPNHead.loss_by_feat`` calls).

    Returns:
        tuple: ``dict(loss_rpn_cls, loss_rpn_bbox)`` and the per-level targets
        ``(labels, label_weights, bbox_targets, bbox_weights, avg_factor, anchors)``,
        each level (N, A_l) or (N, A_l, 4).
    """
    cls_scores, bbox_preds = rpn_outs
    rpn_data_samples = copy.deepcopy(batch_data_samples)
    for sample in rpn_data_samples:  # the RPN knows one class
        sample.gt_instances.labels = torch.zeros_like(sample.gt_instances.labels)
    batch_gt_instances, batch_gt_instances_ignore, batch_img_metas = \
        unpack_gt_instances(rpn_data_samples)
    featmap_sizes = [featmap.shape[-2:] for featmap in cls_scores]
    anchor_list, valid_flag_list = rpn_head.get_anchors(
        featmap_sizes, batch_img_metas, device=cls_scores[0].device)
    targets = rpn_head.get_targets(
        anchor_list, valid_flag_list, batch_gt_instances, batch_img_metas,
        batch_gt_instances_ignore=batch_gt_instances_ignore)
    labels, label_weights, bbox_targets, bbox_weights, avg_factor = targets
    num_level_anchors = [anchors.size(0) for anchors in anchor_list[0]]
    all_anchors = images_to_levels([cat_boxes(a) for a in anchor_list], num_level_anchors)
    losses_cls, losses_bbox = multi_apply(
        rpn_head.loss_by_feat_single, cls_scores, bbox_preds, all_anchors, labels,
        label_weights, bbox_targets, bbox_weights, avg_factor=avg_factor)
    return dict(loss_rpn_cls=losses_cls, loss_rpn_bbox=losses_bbox), (*targets, all_anchors)


def sample_rois(roi_head: Module, x: Tuple[Tensor], rpn_results_list: list,
                batch_data_samples: SampleList) -> list:
    """Assign and sample the proposals: the first half of ``StandardRoIHead.loss``."""
    batch_gt_instances, batch_gt_instances_ignore, _ = unpack_gt_instances(batch_data_samples)
    sampling_results = []
    for i, rpn_results in enumerate(rpn_results_list):
        rpn_results.priors = rpn_results.pop('bboxes')
        assign_result = roi_head.bbox_assigner.assign(
            rpn_results, batch_gt_instances[i], batch_gt_instances_ignore[i])
        sampling_results.append(
            roi_head.bbox_sampler.sample(
                assign_result, rpn_results, batch_gt_instances[i],
                feats=[lvl_feat[i][None] for lvl_feat in x]))
    return sampling_results


def flatten_outputs(maps: Sequence[Tensor], levels: Sequence[int], dim: int) -> Tensor:
    """Head outputs (N, A * dim, H, W) per level -> (N * sum_l H*W*A, dim), in the
    anchor order of ``AnchorHead.get_targets`` (image, level, y, x, anchor)."""
    num_imgs = maps[0].size(0)
    flat = [maps[lvl].permute(0, 2, 3, 1).reshape(num_imgs, -1, dim) for lvl in levels]
    return torch.cat(flat, dim=1).reshape(-1, dim)


def flatten_targets(targets: Sequence[Tensor], levels: Sequence[int]) -> Tensor:
    """Targets (N, A_l) or (N, A_l, K) per level -> (N * sum_l A_l[, K])."""
    flat = torch.cat([targets[lvl] for lvl in levels], dim=1)
    return flat.reshape(-1, *flat.shape[2:])
