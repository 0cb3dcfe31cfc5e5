# Copyright (c) mmkd contributors. All rights reserved.
"""Knowledge distillation for two-stage detectors (Chen et al., NeurIPS 2017)."""
import copy
import math
import os.path as osp
from pathlib import Path
from typing import Any, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.models.dense_heads import RPNHead
from mmdet.models.detectors import TwoStageDetector
from mmdet.models.roi_heads import StandardRoIHead
from mmdet.models.utils import images_to_levels, multi_apply, unpack_gt_instances
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmdet.structures.bbox import BaseBoxes, bbox2roi, cat_boxes
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from mmengine.config import Config, ConfigDict
from torch import Tensor

from mmkd.losses import bound_active
from mmkd.utils import load_teacher_checkpoint

TeacherConfig = Union[ConfigType, str, Path]


@MODELS.register_module()
class KnowledgeDistillationTwoStageDetector(TwoStageDetector):
    r"""Faster R-CNN student distilled from a frozen two-stage teacher.

    `Learning Efficient Object Detection Models with Knowledge Distillation
    <https://papers.nips.cc/paper/6676>`_, Chen et al., NeurIPS 2017, Eq. (1):
    :math:`L = L_{RPN} + L_{RCN} + \gamma L_{hint}`, each head
    :math:`L_{cls} + \lambda L_{reg}` with
    :math:`L_{cls} = \mu L_{hard} + (1 - \mu) L_{soft}` and
    :math:`L_{reg} = L_{smoothL1} + \nu L_b`.
    ``mu`` is the weight of the student's own ``loss_cls``, ``1 - mu`` that of the soft
    losses, ``nu`` that of the bounded losses, ``gamma`` that of ``loss_hint``; ``lambda``
    is the weight of the student's own ``loss_bbox`` (1).

    The defaults are the paper's method with three changes that won on BCCD (55.3 +- 0.7
    mAP over 15 seeds against 54.6 +- 0.8 for the paper's method; +0.7 +- 1.0 on the 13
    seeds not used to pick them, paired t = 2.5; benchmarks/RESULTS.md):
    ``inherit_teacher=('rpn_head', 'roi_head')``, ``adapter=None`` (the hint without its
    adaptation layer) and :class:`TeacherL2RegressionLoss` in place of the teacher bound
    in both heads (L2 to the teacher's regression, weight nu). The paper's method is
    ``inherit_teacher=()``, ``adapter=dict(type='FeatureAdapter', kernel_size=1)`` and
    ``dict(type='TeacherBoundedRegressionLoss', margin=0.0, loss_weight=0.5)`` for both
    regression terms: ``kd_chen2017_paper`` in configs/_base_/kd_chen2017.py,
    configs/kd_faster_rcnn_r50_r18_paper.py.

    The teacher is evaluated where the student is: its RPN on the same anchors, its R-CNN
    head on the student's sampled RoIs. It is built from its config, loaded from its
    checkpoint and frozen; it is kept out of ``state_dict()``, ``parameters()``, the
    optimizer and DDP, and moves with the student on ``.to()`` / ``.cuda()``.

    Args:
        backbone, neck, rpn_head, roi_head, train_cfg, test_cfg, data_preprocessor,
            init_cfg: The student, as for :class:`TwoStageDetector`.
        teacher_config (str | Path | dict): Teacher config: a file path, an
            ``mmdet::`` config name, or a dict (a whole config or its ``model``).
        teacher_ckpt (str, optional): Teacher checkpoint, path or URL. ``None`` leaves
            the teacher random (tests only).
        eval_teacher (bool): Keep the teacher in eval mode. Defaults to True.
        loss_rpn_kd_cls (dict, optional): Soft loss on the RPN objectness at the
            sampled anchors. ``None`` disables it.
        loss_rpn_kd_bbox (dict, optional): Regression distillation on the positive
            anchors: :class:`TeacherL2RegressionLoss` (default) or the paper's
            :class:`TeacherBoundedRegressionLoss`.
        loss_kd_cls (dict, optional): Soft loss on the R-CNN scores of the sampled RoIs.
        loss_kd_bbox (dict, optional): Regression distillation on the positive RoIs, as
            ``loss_rpn_kd_bbox``.
        loss_hint (dict, optional): Hint loss between adapted student and teacher
            neck features, averaged over ``hint_levels``.
        hint_levels (Sequence[int], optional): Student neck levels that get hints.
            Defaults to every level that has a teacher counterpart.
        loss_hint_roi (dict, optional): Hint loss on the sampled RoIs' pooled
            features: the student's RoI features, adapted, against the teacher's for
            the same RoIs (the ones its R-CNN head is evaluated on). Not in the paper,
            whose hint is the whole feature map (``loss_hint``): that map is mostly
            background, and this term puts the same L2 where the detector looks, a
            quarter of it on objects (the sampler's positive fraction); e.g.
            ``dict(type='HintLoss', loss_weight=0.5)``, gamma as the paper's. Off by
            default: on BCCD it was +0.7 mAP over 3 seeds and +0.0 over 5
            (benchmarks/RESULTS.md), so the paper's hint alone stays the default.
            Defaults to None.
        adapter (dict, optional): The adaptation layer, a :class:`FeatureAdapter`;
            channels and level count are filled in from the necks (and from the RoI
            extractors for ``loss_hint_roi``, its own adapter), e.g.
            ``dict(type='FeatureAdapter', kernel_size=1)`` (the paper's 1x1 conv).
            ``None``: hints without adaptation; the channels must match (checked when
            the model is built). Defaults to None: on BCCD (equal FPN widths) the
            adapter-less hint was part of the winning combination; a student narrower
            than its teacher needs the adapter.
        diagnostics (bool): Also return, under names without ``loss`` (logged, not
            optimised; computed under no_grad from tensors the losses use anyway):
            ``kd_rpn_agree`` and ``kd_rcnn_agree``, the share of sampled anchors / RoIs
            where student and teacher agree (objectness on the same side of 0.5, same
            top class); ``kd_teacher_acc``, the teacher's accuracy on the sampled RoIs;
            ``kd_rpn_bound_active`` and ``kd_rcnn_bound_active``, the share of positives
            where the bounded regression is active; ``kd_hint_l{i}``, the hint loss of
            level i without gamma; ``kd_hint_roi``, the RoI hint without its weight.
            Defaults to True.
        student_downsample (int): 1, or the paper's high-resolution teacher: the
            training pipeline produces the teacher's input and the student trains
            on it downsampled by this power of two. Student level ``l`` then meets
            teacher level ``l + log2(student_downsample)`` (same anchors, same
            feature size); the student's test pipeline uses the smaller scale.
            Defaults to 1.
        inherit_teacher (Sequence[str]): Student modules that start from the teacher's
            weights (copied in ``init_weights()``, then trained), e.g.
            ``('rpn_head', 'roi_head')``; each must have the same weights' shapes in
            both. Not in the paper: the inheriting of FGD (Yang et al., CVPR 2022,
            ``init_student`` in its distiller), here limited to named modules.
            ``()`` inherits nothing (the paper). Defaults to
            ``('rpn_head', 'roi_head')``: the heads see only the neck's features, so
            with equally wide necks they fit both detectors; checked when the model is
            built.
    """

    def __init__(self,
                 backbone: ConfigType,
                 neck: ConfigType,
                 rpn_head: ConfigType,
                 roi_head: ConfigType,
                 teacher_config: TeacherConfig,
                 teacher_ckpt: Optional[str] = None,
                 eval_teacher: bool = True,
                 loss_rpn_kd_cls: OptConfigType = dict(
                     type='KDSoftCrossEntropyLoss', use_sigmoid=True, T=1.0, bg_weight=1.5,
                     loss_weight=0.5),
                 loss_rpn_kd_bbox: OptConfigType = dict(
                     type='TeacherL2RegressionLoss', loss_weight=0.5),
                 loss_kd_cls: OptConfigType = dict(
                     type='KDSoftCrossEntropyLoss', T=1.0, bg_weight=1.5, loss_weight=0.5),
                 loss_kd_bbox: OptConfigType = dict(
                     type='TeacherL2RegressionLoss', loss_weight=0.5),
                 loss_hint: OptConfigType = dict(
                     type='HintLoss', loss_type='l2', normalize=False, loss_weight=0.5),
                 hint_levels: Optional[Sequence[int]] = None,
                 loss_hint_roi: OptConfigType = None,
                 adapter: OptConfigType = None,
                 diagnostics: bool = True,
                 student_downsample: int = 1,
                 inherit_teacher: Sequence[str] = ('rpn_head', 'roi_head'),
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(
            backbone=backbone,
            neck=neck,
            rpn_head=rpn_head,
            roi_head=roi_head,
            train_cfg=train_cfg,
            test_cfg=test_cfg,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        if student_downsample < 1 or student_downsample & (student_downsample - 1):
            raise ValueError('student_downsample must be a power of two (1, 2, 4...), '
                             f'got {student_downsample}')
        self.student_downsample = student_downsample
        self.level_shift = int(math.log2(student_downsample))
        self.eval_teacher = eval_teacher

        teacher = MODELS.build(_teacher_model_config(teacher_config))
        _check_supported(self, 'student')
        _check_supported(teacher, 'teacher')
        _check_compatible(self, teacher, self.level_shift)
        if teacher_ckpt is not None:
            load_teacher_checkpoint(teacher, teacher_ckpt)
        teacher.requires_grad_(False)
        teacher.train(not eval_teacher)
        # A plain attribute, not a submodule: out of state_dict(), parameters(),
        # init_weights(), the optimizer and DDP.
        object.__setattr__(self, 'teacher', teacher)
        self._same_normalization = _same_normalization(self.data_preprocessor,
                                                       teacher.data_preprocessor)

        self.loss_rpn_kd_cls = _build_optional(loss_rpn_kd_cls)
        self.loss_rpn_kd_bbox = _build_optional(loss_rpn_kd_bbox)
        self.loss_kd_cls = _build_optional(loss_kd_cls)
        self.loss_kd_bbox = _build_optional(loss_kd_bbox)
        self.loss_hint = _build_optional(loss_hint)
        self.diagnostics = diagnostics
        # the bound's margin, for diagnostics also when the term is off or plain L2
        self._rpn_margin = getattr(self.loss_rpn_kd_bbox, 'margin', 0.0)
        self._rcnn_margin = getattr(self.loss_kd_bbox, 'margin', 0.0)
        num_levels = self.rpn_head.prior_generator.num_levels - self.level_shift
        self.hint_levels = list(range(num_levels) if hint_levels is None else hint_levels)
        if any(not 0 <= lvl < num_levels for lvl in self.hint_levels):
            raise ValueError(f'hint_levels {self.hint_levels}: the student has '
                             f'{num_levels} levels with a teacher counterpart')
        self.adapter = None
        if self.loss_hint is not None and adapter is not None:
            adapter = copy.deepcopy(adapter)
            adapter.setdefault('in_channels', _neck_channels(self))
            adapter.setdefault('out_channels', _neck_channels(teacher))
            adapter.setdefault('num_levels', len(self.hint_levels))
            self.adapter = MODELS.build(adapter)
        elif self.loss_hint is not None:
            _check_same_channels(_neck_channels(self), _neck_channels(teacher), 'loss_hint')
        self.loss_hint_roi = _build_optional(loss_hint_roi)
        self.roi_adapter = None
        if self.loss_hint_roi is not None:
            s_channels, t_channels = _roi_channels(self), _roi_channels(teacher)
            if adapter is not None:
                self.roi_adapter = MODELS.build(
                    dict(adapter, in_channels=s_channels, out_channels=t_channels,
                         num_levels=1))
            else:
                _check_same_channels(s_channels, t_channels, 'loss_hint_roi')
        self.inherit_teacher = list(inherit_teacher)
        for name in self.inherit_teacher:
            _check_inheritable(self, teacher, name)

    def init_weights(self) -> None:
        """Initialise the student, then copy the ``inherit_teacher`` modules' weights."""
        super().init_weights()
        for name in self.inherit_teacher:
            self.get_submodule(name).load_state_dict(
                self.teacher.get_submodule(name).state_dict())

    def loss(self, batch_inputs: Tensor, batch_data_samples: SampleList) -> dict:
        """Hard losses of the student, plus distillation from the teacher.

        Args:
            batch_inputs (Tensor): Normalised images, (N, 3, H, W), at the teacher's
                scale (equal to the student's unless ``student_downsample > 1``).
            batch_data_samples (list[:obj:`DetDataSample`]): Annotations and metas.

        Returns:
            dict[str, Tensor]: The student's ``loss_rpn_cls``, ``loss_rpn_bbox``,
            ``loss_cls``, ``loss_bbox`` (and ``acc``), plus ``loss_rpn_kd_cls``,
            ``loss_rpn_kd_bbox``, ``loss_kd_cls``, ``loss_kd_bbox``, ``loss_hint``, and
            the ``kd_*`` diagnostics (see ``diagnostics``).
        """
        teacher_inputs = self._teacher_inputs(batch_inputs)
        batch_inputs, batch_data_samples = self._student_batch(batch_inputs,
                                                               batch_data_samples)
        losses = dict()

        # 1. Features. The teacher never builds a graph.
        x = self.extract_feat(batch_inputs)
        with torch.no_grad():
            teacher_x = self.teacher.extract_feat(teacher_inputs)

        # 2. RPN: student hard losses and sampled anchors, teacher at the same anchors.
        rpn_outs = self.rpn_head(x)
        with torch.no_grad():
            teacher_rpn_outs = self.teacher.rpn_head(teacher_x)
        rpn_losses, rpn_targets = self._rpn_loss_and_targets(rpn_outs, batch_data_samples)
        losses.update(rpn_losses)
        losses.update(self._rpn_kd_losses(rpn_outs, teacher_rpn_outs, rpn_targets))

        # 3. Student proposals, then the student's RoI sampling.
        batch_img_metas = [sample.metainfo for sample in batch_data_samples]
        proposal_cfg = self.train_cfg.get('rpn_proposal', self.test_cfg.rpn)
        rpn_results_list = self.rpn_head.predict_by_feat(
            *rpn_outs, batch_img_metas=batch_img_metas, cfg=proposal_cfg)
        sampling_results = self._sample_rois(x, rpn_results_list, batch_data_samples)

        # 4. R-CNN: student head and hard losses, teacher head on the same RoIs.
        rois = bbox2roi([res.priors for res in sampling_results])
        bbox_results = self.roi_head._bbox_forward(x, rois)
        with torch.no_grad():
            teacher_rois = _scale_rois(rois, self.student_downsample)
            teacher_bbox_results = self.teacher.roi_head._bbox_forward(teacher_x, teacher_rois)
        bbox_loss_and_target = self.roi_head.bbox_head.loss_and_target(
            cls_score=bbox_results['cls_score'],
            bbox_pred=bbox_results['bbox_pred'],
            rois=rois,
            sampling_results=sampling_results,
            rcnn_train_cfg=self.roi_head.train_cfg)
        losses.update(bbox_loss_and_target['loss_bbox'])
        losses.update(
            self._rcnn_kd_losses(bbox_results, teacher_bbox_results,
                                 bbox_loss_and_target['bbox_targets']))
        if self.roi_head.with_mask:  # the mask head learns from hard labels only
            batch_gt_instances = [sample.gt_instances for sample in batch_data_samples]
            mask_results = self.roi_head.mask_loss(x, sampling_results,
                                                   bbox_results['bbox_feats'],
                                                   batch_gt_instances)
            losses.update(mask_results['loss_mask'])

        # 5. Hints: adapted student neck features against the teacher's, and the
        #    student's pooled features of the sampled RoIs against the teacher's.
        if self.loss_hint is not None:
            losses.update(self._hint_losses(x, teacher_x))
        if self.loss_hint_roi is not None:
            losses.update(
                self._roi_hint_loss(bbox_results['bbox_feats'],
                                    teacher_bbox_results['bbox_feats']))
        return losses

    def _rpn_loss_and_targets(self, rpn_outs: Tuple[List[Tensor], List[Tensor]],
                              batch_data_samples: SampleList) -> Tuple[dict, tuple]:
        """The student's RPN losses, keeping the targets for distillation.

        Follows mmdet 3.3's ``TwoStageDetector.loss`` (the RPN's one-class labels) and
        ``AnchorHead.loss_by_feat`` (which ``RPNHead.loss_by_feat`` calls); the losses equal
        mmdet's exactly (``test_hard_losses_equal_two_stage_detector_...``).

        Returns:
            tuple: ``dict(loss_rpn_cls, loss_rpn_bbox)`` and the per-level targets
            ``(labels, label_weights, bbox_targets, bbox_weights, avg_factor)``,
            each level (N, A_l) or (N, A_l, 4).
        """
        cls_scores, bbox_preds = rpn_outs
        rpn_data_samples = copy.deepcopy(batch_data_samples)
        for sample in rpn_data_samples:  # the RPN knows one class
            sample.gt_instances.labels = torch.zeros_like(sample.gt_instances.labels)
        batch_gt_instances, batch_gt_instances_ignore, batch_img_metas = \
            unpack_gt_instances(rpn_data_samples)
        rpn_head = self.rpn_head
        featmap_sizes = [featmap.shape[-2:] for featmap in cls_scores]
        anchor_list, valid_flag_list = rpn_head.get_anchors(
            featmap_sizes, batch_img_metas, device=cls_scores[0].device)
        targets = rpn_head.get_targets(
            anchor_list, valid_flag_list, batch_gt_instances, batch_img_metas,
            batch_gt_instances_ignore=batch_gt_instances_ignore)
        labels, label_weights, bbox_targets, bbox_weights, avg_factor = targets
        num_level_anchors = [anchors.size(0) for anchors in anchor_list[0]]
        all_anchors = images_to_levels([cat_boxes(a) for a in anchor_list],
                                       num_level_anchors)
        losses_cls, losses_bbox = multi_apply(
            rpn_head.loss_by_feat_single, cls_scores, bbox_preds, all_anchors, labels,
            label_weights, bbox_targets, bbox_weights, avg_factor=avg_factor)
        return dict(loss_rpn_cls=losses_cls, loss_rpn_bbox=losses_bbox), targets

    def _rpn_kd_losses(self, rpn_outs: tuple, teacher_rpn_outs: tuple,
                       rpn_targets: tuple) -> dict:
        """Soft objectness on the sampled anchors, bounded regression on the positive.

        Student level ``l`` meets teacher level ``l + level_shift``; the student's top
        ``level_shift`` levels have no teacher counterpart and get no RPN distillation.
        """
        labels, label_weights, bbox_targets, bbox_weights, avg_factor = rpn_targets
        levels = range(len(labels) - self.level_shift)
        shifted = [lvl + self.level_shift for lvl in levels]
        (cls_score, bbox_pred), (teacher_cls, teacher_bbox) = (
            (_flatten_outputs(outs[0], lvls, 1), _flatten_outputs(outs[1], lvls, 4))
            for outs, lvls in ((rpn_outs, levels), (teacher_rpn_outs, shifted)))
        if teacher_cls.shape != cls_score.shape:
            raise RuntimeError(
                f'teacher RPN gives {teacher_cls.shape[0]} anchors, the student '
                f'{cls_score.shape[0]}: their inputs or anchor generators do not match')
        sampled = _flatten_targets(label_weights, levels)
        pos_weights = _flatten_targets(bbox_weights, levels)[:, 0]
        reg_targets = _flatten_targets(bbox_targets, levels)
        # Both terms are averaged over the M sampled anchors, as the paper's Eq. (1) and
        # mmdet's own loss_rpn_cls / loss_rpn_bbox (avg_factor). Averaged over the
        # positives only, the bounded term was 1 / (positive share), about 4 times, larger
        # than the student's own regression loss (weighted 1.25 against 0.45 on BCCD at
        # iteration 20). Averaging both bounded losses over the positives cost 3.5 and 3.3
        # mAP against this (BCCD, seeds 0 and 1, all terms on).
        losses = dict()
        if self.loss_rpn_kd_cls is not None:
            losses['loss_rpn_kd_cls'] = self.loss_rpn_kd_cls(
                cls_score, teacher_cls, sampled, avg_factor=avg_factor)
        if self.loss_rpn_kd_bbox is not None:
            losses['loss_rpn_kd_bbox'] = self.loss_rpn_kd_bbox(
                bbox_pred, teacher_bbox, reg_targets, pos_weights, avg_factor=avg_factor)
        if self.diagnostics:
            with torch.no_grad():
                # objectness on the same side of 0.5 <=> logits of the same sign
                agree = (cls_score.reshape(-1) > 0) == (teacher_cls.reshape(-1) > 0)
                losses['kd_rpn_agree'] = _masked_mean(agree, sampled > 0)
                losses['kd_rpn_bound_active'] = _masked_mean(
                    bound_active(bbox_pred, reg_targets, teacher_bbox, self._rpn_margin),
                    pos_weights > 0)
        return losses

    def _sample_rois(self, x: Tuple[Tensor], rpn_results_list: list,
                     batch_data_samples: SampleList) -> list:
        """Assign and sample the student's proposals.

        Follows the first half of mmdet 3.3's ``StandardRoIHead.loss`` (pinned by the same
        test as :meth:`_rpn_loss_and_targets`).
        """
        roi_head = self.roi_head
        batch_gt_instances, batch_gt_instances_ignore, _ = \
            unpack_gt_instances(batch_data_samples)
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

    def _rcnn_kd_losses(self, bbox_results: dict, teacher_bbox_results: dict,
                        bbox_targets: tuple) -> dict:
        """Soft classification on all sampled RoIs; bounded regression on the
        positive ones, for the regression of their ground-truth class."""
        labels, label_weights, reg_targets, _ = bbox_targets
        cls_score, teacher_cls = bbox_results['cls_score'], teacher_bbox_results['cls_score']
        num_classes = self.roi_head.bbox_head.num_classes
        pos = (labels >= 0) & (labels < num_classes)
        gt_class = labels.clamp(max=num_classes - 1)
        bbox_pred = _class_regression(bbox_results['bbox_pred'], gt_class)
        teacher_bbox = _class_regression(teacher_bbox_results['bbox_pred'], gt_class)
        # Both terms are averaged over the N sampled RoIs, as Eq. (1) and mmdet's
        # loss_cls / loss_bbox (BBoxHead.loss: avg_factor=bbox_targets.size(0)).
        losses = dict()
        if self.loss_kd_cls is not None:
            losses['loss_kd_cls'] = self.loss_kd_cls(cls_score, teacher_cls, label_weights)
        if self.loss_kd_bbox is not None:
            losses['loss_kd_bbox'] = self.loss_kd_bbox(
                bbox_pred, teacher_bbox, reg_targets, pos.float(), avg_factor=labels.numel())
        if self.diagnostics:
            with torch.no_grad():
                student_top, teacher_top = cls_score.argmax(1), teacher_cls.argmax(1)
                losses['kd_rcnn_agree'] = (student_top == teacher_top).float().mean()
                losses['kd_teacher_acc'] = (teacher_top == labels).float().mean()
                losses['kd_rcnn_bound_active'] = _masked_mean(
                    bound_active(bbox_pred, reg_targets, teacher_bbox, self._rcnn_margin), pos)
        return losses

    def _hint_losses(self, x: Tuple[Tensor], teacher_x: Tuple[Tensor]) -> dict:
        """``loss_hint``: the mean of the hint losses over ``hint_levels``; with
        ``diagnostics``, ``kd_hint_l{i}``: level i's, without gamma."""
        student_feats = [x[lvl] for lvl in self.hint_levels]
        teacher_feats = [teacher_x[lvl + self.level_shift] for lvl in self.hint_levels]
        if self.adapter is not None:
            student_feats = self.adapter(student_feats,
                                         [feat.shape[-2:] for feat in teacher_feats])
        hint = [self.loss_hint(s, t) for s, t in zip(student_feats, teacher_feats)]
        losses = dict(loss_hint=sum(hint) / len(hint))
        if self.diagnostics and self.loss_hint.loss_weight:
            for lvl, value in zip(self.hint_levels, hint):
                losses[f'kd_hint_l{lvl}'] = value.detach() / self.loss_hint.loss_weight
        return losses

    def _roi_hint_loss(self, bbox_feats: Tensor, teacher_bbox_feats: Tensor) -> dict:
        """``loss_hint_roi``: the hint loss between the adapted RoI features of the
        student, (N, C, 7, 7) for N sampled RoIs, and the teacher's for the same RoIs;
        averaged over its elements, so over the N RoIs as Eq. (1) averages the head's
        other terms. With ``diagnostics``, ``kd_hint_roi``: the same without its weight."""
        if self.roi_adapter is not None:
            bbox_feats = self.roi_adapter([bbox_feats])[0]
        loss = self.loss_hint_roi(bbox_feats, teacher_bbox_feats)
        losses = dict(loss_hint_roi=loss)
        if self.diagnostics and self.loss_hint_roi.loss_weight:
            losses['kd_hint_roi'] = loss.detach() / self.loss_hint_roi.loss_weight
        return losses

    def _teacher_inputs(self, batch_inputs: Tensor) -> Tensor:
        """The batch normalised as the teacher's ``data_preprocessor`` would have."""
        if self._same_normalization:
            return batch_inputs
        student, teacher = self.data_preprocessor, self.teacher.data_preprocessor
        raw = batch_inputs
        if student._enable_normalize:
            raw = raw * student.std + student.mean
        if student._channel_conversion != teacher._channel_conversion:
            raw = raw.flip(1)
        if teacher._enable_normalize:
            raw = (raw - teacher.mean) / teacher.std
        return raw

    def _student_batch(self, batch_inputs: Tensor,
                       batch_data_samples: SampleList) -> Tuple[Tensor, SampleList]:
        """The student's input: the teacher's downsampled by ``student_downsample``."""
        if self.student_downsample == 1:
            return batch_inputs, batch_data_samples
        factor = 1.0 / self.student_downsample
        batch_inputs = F.interpolate(
            batch_inputs, scale_factor=factor, mode='bilinear', align_corners=False)
        samples = copy.deepcopy(batch_data_samples)
        for sample in samples:
            _rescale_boxes_(sample.gt_instances.bboxes, factor)
            if 'ignored_instances' in sample:
                _rescale_boxes_(sample.ignored_instances.bboxes, factor)
            meta = sample.metainfo
            sample.set_metainfo(
                dict(
                    img_shape=_scale_shape(meta['img_shape'], factor),
                    pad_shape=_scale_shape(meta['pad_shape'], factor),
                    batch_input_shape=tuple(batch_inputs.shape[-2:]),
                    scale_factor=tuple(s * factor for s in meta['scale_factor'])))
        return batch_inputs, samples

    def train(self, mode: bool = True) -> 'KnowledgeDistillationTwoStageDetector':
        """Set the student's mode; the teacher stays in eval if ``eval_teacher``."""
        super().train(mode)
        self.teacher.train(mode and not self.eval_teacher)
        return self

    def _apply(self, fn, *args, **kwargs) -> 'KnowledgeDistillationTwoStageDetector':
        """Move or cast the teacher with the student (``.to()``, ``.cuda()``, ``.half()``)."""
        self.teacher._apply(fn, *args, **kwargs)
        return super()._apply(fn, *args, **kwargs)

    def _set_device(self, device: torch.device) -> None:
        """Tell the teacher's data preprocessor too where the data goes (``.to()``)."""
        super()._set_device(device)
        self.teacher._set_device(device)


def _teacher_model_config(teacher_config: TeacherConfig) -> ConfigDict:
    """The teacher's model config from a path, an ``mmdet::`` name or a dict."""
    if isinstance(teacher_config, (str, Path)):
        name = str(teacher_config)
        if '::' in name:
            from mmengine.hub import get_config
            teacher_config = get_config(name)
        elif not osp.isfile(name):
            raise FileNotFoundError(f"teacher_config '{name}' not found: give a config "
                                    "file, an 'mmdet::' config name or a dict")
        else:
            teacher_config = Config.fromfile(name)
    if 'model' in teacher_config:
        teacher_config = teacher_config['model']
    return ConfigDict(copy.deepcopy(teacher_config))


def _check_supported(detector: nn.Module, role: str) -> None:
    """Refuse what the data flow of ``loss()`` does not cover, e.g. Cascade R-CNN."""
    rpn_head = getattr(detector, 'rpn_head', None)
    if not isinstance(rpn_head, RPNHead) or not rpn_head.use_sigmoid_cls:
        raise TypeError(f'{role} needs an RPNHead with a sigmoid objectness, got '
                        f'{type(rpn_head).__name__}')
    roi_head = getattr(detector, 'roi_head', None)
    if type(roi_head) is not StandardRoIHead:
        raise TypeError(f'{role} RoI head {type(roi_head).__name__} is not supported: '
                        'mmkd distils StandardRoIHead (Faster R-CNN, Mask R-CNN)')
    if roi_head.bbox_head.reg_decoded_bbox:
        raise TypeError(f'{role} bbox head regresses decoded boxes (reg_decoded_bbox); '
                        'bounded regression compares encoded deltas')


def _check_compatible(student: nn.Module, teacher: nn.Module, level_shift: int) -> None:
    """Same classes; teacher anchors at level ``l + shift`` equal the student's at ``l``."""
    s_classes = student.roi_head.bbox_head.num_classes
    t_classes = teacher.roi_head.bbox_head.num_classes
    if s_classes != t_classes:
        raise ValueError(f'teacher has {t_classes} classes, student {s_classes}: '
                         'distillation needs the same classes')
    scale = 2**level_shift
    s_anchors = student.rpn_head.prior_generator.base_anchors
    t_anchors = teacher.rpn_head.prior_generator.base_anchors[level_shift:]
    if len(t_anchors) < len(s_anchors) - level_shift or any(
            s.shape != t.shape or not torch.allclose(s, t / scale)
            for s, t in zip(s_anchors, t_anchors)):
        raise ValueError('teacher and student RPN anchors differ (anchor_generator '
                         'scales, ratios, strides); the RPN is distilled on the same anchors')


def _check_inheritable(student: nn.Module, teacher: nn.Module, name: str) -> None:
    """``inherit_teacher`` names a module both have, with the same weights' shapes."""
    modules = []
    for role, detector in (('student', student), ('teacher', teacher)):
        try:
            modules.append(detector.get_submodule(name))
        except AttributeError:
            raise ValueError(f"inherit_teacher: the {role} has no module '{name}'") from None
    s_state, t_state = (m.state_dict() for m in modules)
    if s_state.keys() != t_state.keys():
        raise ValueError(f"inherit_teacher: '{name}' differs between student and teacher: "
                         f'{sorted(s_state.keys() ^ t_state.keys())[:3]}; set '
                         'inherit_teacher=() or name only modules that fit')
    for key, value in s_state.items():
        if value.shape != t_state[key].shape:
            raise ValueError(f"inherit_teacher: '{name}.{key}' is "
                             f'{tuple(value.shape)} in the student and '
                             f'{tuple(t_state[key].shape)} in the teacher; set '
                             'inherit_teacher=() or name only modules that fit')


def _same_normalization(student: nn.Module, teacher: nn.Module) -> bool:
    if student._channel_conversion != teacher._channel_conversion:
        return False
    if student._enable_normalize != teacher._enable_normalize:
        return False
    return not student._enable_normalize or (torch.equal(student.mean, teacher.mean)
                                             and torch.equal(student.std, teacher.std))


def _neck_channels(detector: nn.Module) -> int:
    return detector.rpn_head.in_channels


def _roi_channels(detector: nn.Module) -> int:
    return detector.roi_head.bbox_roi_extractor.out_channels


def _check_same_channels(student: int, teacher: int, term: str) -> None:
    if student != teacher:
        raise ValueError(f'{term} without an adapter needs the same channels, but the '
                         f'student has {student} and the teacher {teacher}: set '
                         "adapter=dict(type='FeatureAdapter', kernel_size=1)")


def _build_optional(cfg: OptConfigType) -> Optional[nn.Module]:
    return None if cfg is None else MODELS.build(cfg)


def _flatten_outputs(maps: Sequence[Tensor], levels: Sequence[int], dim: int) -> Tensor:
    """Head outputs (N, A * dim, H, W) per level -> (N * sum_l H*W*A, dim), in the
    anchor order of ``AnchorHead.get_targets`` (image, level, y, x, anchor)."""
    num_imgs = maps[0].size(0)
    flat = [maps[lvl].permute(0, 2, 3, 1).reshape(num_imgs, -1, dim) for lvl in levels]
    return torch.cat(flat, dim=1).reshape(-1, dim)


def _flatten_targets(targets: Sequence[Tensor], levels: Sequence[int]) -> Tensor:
    """Targets (N, A_l) or (N, A_l, K) per level -> (N * sum_l A_l[, K])."""
    flat = torch.cat([targets[lvl] for lvl in levels], dim=1)
    return flat.reshape(-1, *flat.shape[2:])


def _masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    """Share of ``mask`` where boolean ``values`` hold; 0 for an empty mask (no sync)."""
    return (values & mask).sum() / mask.sum().clamp(min=1)


def _class_regression(bbox_pred: Tensor, labels: Tensor) -> Tensor:
    """The (N, 4) regression of class ``labels`` from (N, 4) or (N, 4 * C)."""
    if bbox_pred.size(1) == 4:  # class-agnostic
        return bbox_pred
    rows = torch.arange(bbox_pred.size(0), device=bbox_pred.device)
    return bbox_pred.view(bbox_pred.size(0), -1, 4)[rows, labels]


def _scale_rois(rois: Tensor, scale: int) -> Tensor:
    """(N, 5) RoIs (batch index, x1, y1, x2, y2) in an image ``scale`` times larger."""
    if scale == 1:
        return rois
    return torch.cat([rois[:, :1], rois[:, 1:] * scale], dim=1)


def _rescale_boxes_(boxes: Union[Tensor, BaseBoxes], factor: float) -> None:
    if isinstance(boxes, BaseBoxes):
        boxes.rescale_((factor, factor))
    else:
        boxes.mul_(factor)


def _scale_shape(shape: Any, factor: float) -> Tuple[int, int]:
    return tuple(int(round(s * factor)) for s in shape[:2])
