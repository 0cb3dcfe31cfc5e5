# Copyright (c) mmkd contributors. All rights reserved.
"""The teacher's R-CNN targets on the student's sampled RoIs, in the student's box coding.

A Faster R-CNN teacher scores the RoIs with its one head; a Cascade R-CNN teacher predicts as
at test time (mmdet 3.3's ``CascadeRoIHead._refine_roi``), the RoIs as its proposals. Either
way the result is what the student's head outputs: class logits (N, C + 1) and the regression
(N, 4) of the given classes, encoded on the student's RoIs by the student's coder.
"""
from typing import List, Optional

import torch
from mmdet.structures.bbox import get_box_tensor
from torch import Tensor
from torch.nn import Module

from .pair import coders_equal


def recode(deltas: Tensor, priors: Tensor, from_coder: Module, to_coder: Module) -> Tensor:
    """Deltas of ``from_coder`` on ``priors`` (N, 4) as ``to_coder`` encodes the same boxes."""
    boxes = get_box_tensor(from_coder.decode(priors, deltas))
    return to_coder.encode(priors, boxes)


def class_regression(bbox_pred: Tensor, labels: Tensor) -> Tensor:
    """The (N, 4) regression of class ``labels`` from (N, 4) or (N, 4 * C)."""
    if bbox_pred.size(1) == 4:  # class-agnostic
        return bbox_pred
    rows = torch.arange(bbox_pred.size(0), device=bbox_pred.device)
    return bbox_pred.view(bbox_pred.size(0), -1, 4)[rows, labels]


class FasterRoITeacher:
    """A ``StandardRoIHead`` teacher: its head on the RoIs, its deltas re-encoded only when
    its coder differs from the student's (the identity otherwise, at no cost)."""

    def __init__(self, roi_head: Module, student_coder: Module) -> None:
        self.roi_head = roi_head
        self.student_coder = student_coder
        self.same_coder = coders_equal(roi_head.bbox_head.bbox_coder, student_coder)

    def __call__(self, x: List[Tensor], rois: Tensor, labels: Tensor,
                 batch_img_metas: List[dict], with_feats: bool) -> dict:
        """Teacher outputs on ``rois`` (N, 5), at the teacher's scale.

        Returns:
            dict: ``cls_score`` (N, C + 1) logits, ``bbox_pred`` (N, 4) for class
            ``labels`` in the student's coding, ``bbox_feats`` (N, C', 7, 7).
        """
        results = self.roi_head._bbox_forward(x, rois)
        bbox_pred = class_regression(results['bbox_pred'], labels)
        if not self.same_coder:
            bbox_pred = recode(bbox_pred, rois[:, 1:], self.roi_head.bbox_head.bbox_coder,
                               self.student_coder)
        return dict(cls_score=results['cls_score'], bbox_pred=bbox_pred,
                    bbox_feats=results['bbox_feats'])


class CascadeRoITeacher:
    """A ``CascadeRoIHead`` teacher, as at test time with the RoIs as its proposals.

    Stage by stage each refines the boxes of the one before; the logits are the mean of the
    stages' (Cascade's own test averages the stages' scores before the softmax); the
    regression is the last stage's box, encoded on the student's RoI by the student's coder.
    """

    def __init__(self, roi_head: Module, student_coder: Module) -> None:
        self.roi_head = roi_head
        self.student_coder = student_coder

    def __call__(self, x: List[Tensor], rois: Tensor, labels: Tensor,
                 batch_img_metas: List[dict], with_feats: bool) -> dict:
        """As :meth:`FasterRoITeacher.__call__`; ``bbox_feats`` are the first stage's."""
        roi_head = self.roi_head
        num_per_img = tuple(torch.bincount(rois[:, 0].long(),
                                           minlength=len(batch_img_metas)).tolist())
        last_rois, cls_scores, bbox_preds = roi_head._refine_roi(
            x=x, rois=rois, batch_img_metas=batch_img_metas,
            num_proposals_per_img=num_per_img)
        last_rois = torch.cat(last_rois)  # the last stage's input, split per image
        deltas = class_regression(torch.cat(bbox_preds), labels)
        boxes = get_box_tensor(roi_head.bbox_head[-1].bbox_coder.decode(last_rois[:, 1:],
                                                                        deltas))
        feats: Optional[Tensor] = None
        if with_feats:
            extractor = roi_head.bbox_roi_extractor[0]
            feats = extractor(x[:extractor.num_inputs], rois)
        return dict(cls_score=torch.cat(cls_scores),
                    bbox_pred=self.student_coder.encode(rois[:, 1:], boxes), bbox_feats=feats)


def build_roi_teacher(teacher: Module, student_coder: Module):
    """The teacher's R-CNN side for its RoI head type."""
    from mmdet.models.roi_heads import CascadeRoIHead
    if isinstance(teacher.roi_head, CascadeRoIHead):
        return CascadeRoITeacher(teacher.roi_head, student_coder)
    return FasterRoITeacher(teacher.roi_head, student_coder)
