# Copyright (c) mmkd contributors. All rights reserved.
"""Knowledge distillation for two-stage detectors (Chen et al., NeurIPS 2017)."""
import copy
from typing import Any, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.models.detectors import TwoStageDetector
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmdet.structures.bbox import BaseBoxes, bbox2roi
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from mmengine.logging import print_log
from torch import Tensor

from mmkd.losses import bound_active
from mmkd.utils import load_teacher_checkpoint

from . import pair
from .mmdet_internals import flatten_outputs, flatten_targets, rpn_loss_and_targets, sample_rois
from .pair import AUTO, TeacherConfig
from .teacher_targets import build_roi_teacher, class_regression, recode


@MODELS.register_module()
class KnowledgeDistillationTwoStageDetector(TwoStageDetector):
    r"""Faster R-CNN student distilled from a frozen two-stage teacher.

    `Learning Efficient Object Detection Models with Knowledge Distillation
    <https://papers.nips.cc/paper/6676>`_, Chen et al., NeurIPS 2017, Eq. (1):
    :math:`L = L_{RPN} + L_{RCN} + \gamma L_{hint}`, each head
    :math:`L_{cls} + \lambda L_{reg}` with
    :math:`L_{cls} = \mu L_{hard} + (1 - \mu) L_{soft}` and
    :math:`L_{reg} = L_{smoothL1} + \nu L_b`. ``mu`` scales the student's own
    classification losses, ``1 - mu`` is the soft losses' weight, ``nu`` the regression
    terms', ``gamma`` the hint's; ``lambda`` is the student's own ``loss_bbox`` weight (1).

    The defaults are mmkd's: the paper's terms and constants with three changes measured on
    BCCD (heads inherited from the teacher, the hint without adapter where the necks are
    equally wide and see one resolution, L2 to the teacher's regression in place of the
    bound); the paper's method is ``kd_chen2017_paper`` in configs/_base_/kd_chen2017.py.
    docs/method.md gives each choice and its measurement.

    The teacher is evaluated where the student is: its RPN on the same anchors, its R-CNN
    head on the student's sampled RoIs (a Cascade R-CNN teacher as at test time, the RoIs
    as its proposals), its regression re-encoded in the student's box coding. It is built
    from its config, loaded from its checkpoint and frozen; it is kept out of
    ``state_dict()``, ``parameters()``, the optimizer and DDP, and moves with the student on
    ``.to()`` / ``.cuda()``. Options left at ``'auto'`` are resolved for the pair when the
    model is built and said in one log line (:mod:`mmkd.detectors.pair`).

    Args:
        backbone, neck, rpn_head, roi_head, train_cfg, test_cfg, data_preprocessor,
            init_cfg: The student, as for :class:`TwoStageDetector`.
        teacher_config (str | Path | dict): Teacher config: a file path, an
            ``mmdet::`` config name, or a dict (a whole config or its ``model``). Faster,
            Mask, Cascade or Cascade Mask R-CNN, with the student's classes.
        teacher_ckpt (str, optional): Teacher checkpoint, path or URL. ``None`` leaves
            the teacher random (tests only).
        eval_teacher (bool): Keep the teacher in eval mode. Defaults to True.
        mu (float): Weight of the student's own (hard) classification losses,
            ``loss_rpn_cls`` and ``loss_cls``, on top of their ``loss_weight``.
            Defaults to 0.5, the paper's.
        loss_rpn_kd_cls (dict, optional): Soft loss on the RPN objectness at the
            sampled anchors (weight 1 - mu). ``None`` disables it.
        loss_rpn_kd_bbox (dict, optional): Regression distillation on the positive
            anchors: :class:`TeacherL2RegressionLoss` (default) or the paper's
            :class:`TeacherBoundedRegressionLoss` (weight nu).
        loss_kd_cls (dict, optional): Soft loss on the R-CNN scores of the sampled RoIs.
        loss_kd_bbox (dict, optional): Regression distillation on the positive RoIs, as
            ``loss_rpn_kd_bbox``.
        loss_hint (dict, optional): Hint loss between adapted student and teacher
            neck features, averaged over ``hint_levels`` (weight gamma).
        hint_levels (Sequence[int], optional): Student FPN levels that get hints.
            Defaults to every level whose stride the teacher also has.
        loss_hint_roi (dict, optional): Hint loss on the sampled RoIs' pooled features
            (not in the paper), e.g. ``dict(type='HintLoss', loss_weight=0.5)``.
            Defaults to None.
        adapter (dict | str, optional): The adaptation layer of the hints, a
            :class:`FeatureAdapter` (channels and levels filled in), e.g. the paper's
            ``dict(type='FeatureAdapter', kernel_size=1)``; ``None``: none, the widths
            must be equal. Defaults to ``'auto'``: the paper's adapter where the student
            and teacher widths differ or ``student_downsample > 1``, none otherwise.
        distill_rpn (bool | str): Distil the RPN (``loss_rpn_kd_*``). Defaults to
            ``'auto'``: where the teacher has the student's anchors in image pixels, on
            the level of the same stride or every ``step``-th cell of a finer one
            (``rpn_level_map``).
        inherit_teacher (Sequence[str] | str): Student modules that start from the
            teacher's weights (copied in ``init_weights()``), e.g.
            ``('rpn_head', 'roi_head')``; ``()`` inherits nothing (the paper). Defaults
            to ``'auto'``: the RPN head where the RPN is distilled on the same grid, the
            R-CNN head (or its box head) where the box coding is the same, each where its
            weights fit.
        diagnostics (bool): Also return, under names without ``loss`` (logged, not
            optimised): ``kd_rpn_agree``, ``kd_rcnn_agree``, ``kd_teacher_acc``,
            ``kd_rpn_bound_active``, ``kd_rcnn_bound_active``, ``kd_hint_l{i}``,
            ``kd_hint_roi`` (README, "Is my distillation working?"). Defaults to True.
        student_downsample (int): 1, or the paper's high-resolution teacher: the
            training pipeline produces the teacher's input and the student trains on it
            downsampled by this power of two; student level ``l`` meets the teacher's
            level of ``student_downsample`` times its stride. Defaults to 1.
    """

    def __init__(self,
                 backbone: ConfigType,
                 neck: ConfigType,
                 rpn_head: ConfigType,
                 roi_head: ConfigType,
                 teacher_config: TeacherConfig,
                 teacher_ckpt: Optional[str] = None,
                 eval_teacher: bool = True,
                 mu: float = 0.5,
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
                 adapter: Union[OptConfigType, str] = AUTO,
                 distill_rpn: Union[bool, str] = AUTO,
                 inherit_teacher: Union[Sequence[str], str] = AUTO,
                 diagnostics: bool = True,
                 student_downsample: int = 1,
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
        self.eval_teacher = eval_teacher
        self.mu = mu

        teacher = MODELS.build(pair.teacher_model_config(teacher_config))
        pair.check_supported(self, 'student')
        pair.check_supported(teacher, 'teacher')
        pair.check_classes(self, teacher)
        if teacher_ckpt is not None:
            load_teacher_checkpoint(teacher, teacher_ckpt)
        teacher.requires_grad_(False)
        teacher.train(not eval_teacher)
        # A plain attribute, not a submodule: out of state_dict(), parameters(),
        # init_weights(), the optimizer and DDP.
        object.__setattr__(self, 'teacher', teacher)
        self._same_normalization = _same_normalization(self.data_preprocessor,
                                                       teacher.data_preprocessor)

        # The pair: matched FPN levels, whether the RPN is distilled, the box coding.
        self.level_map = pair.level_map(self, teacher, student_downsample)
        self.rpn_level_map = pair.rpn_level_map(self, teacher, student_downsample)
        anchors = pair.rpn_anchors(self.rpn_level_map)
        self.distill_rpn = pair.resolve_distill_rpn(distill_rpn, anchors)
        student_coder = self.roi_head.bbox_head.bbox_coder
        self.roi_teacher = build_roi_teacher(teacher, student_coder)
        self._same_rpn_coder = pair.coders_equal(teacher.rpn_head.bbox_coder,
                                                 self.rpn_head.bbox_coder)
        same_rcnn_coder = getattr(self.roi_teacher, 'same_coder', False)

        self.loss_rpn_kd_cls = _build_optional(loss_rpn_kd_cls, self.distill_rpn)
        self.loss_rpn_kd_bbox = _build_optional(loss_rpn_kd_bbox, self.distill_rpn)
        self.loss_kd_cls = _build_optional(loss_kd_cls)
        self.loss_kd_bbox = _build_optional(loss_kd_bbox)
        self.loss_hint = _build_optional(loss_hint)
        self.loss_hint_roi = _build_optional(loss_hint_roi)
        self.diagnostics = diagnostics
        # the bound's margin, for diagnostics also when the term is off or plain L2
        self._rpn_margin = getattr(self.loss_rpn_kd_bbox, 'margin', 0.0)
        self._rcnn_margin = getattr(self.loss_kd_bbox, 'margin', 0.0)

        self.hint_levels = sorted(self.level_map) if hint_levels is None else list(hint_levels)
        if any(lvl not in self.level_map for lvl in self.hint_levels):
            raise ValueError(f'hint_levels {self.hint_levels}: the student levels with a '
                             f'teacher level of the same stride are {sorted(self.level_map)}')
        self.adapter = self.roi_adapter = None
        hint_adapter = None
        if self.loss_hint is not None:
            s_channels, t_channels = pair.neck_channels(self), pair.neck_channels(teacher)
            hint_adapter = pair.resolve_adapter(adapter, s_channels, t_channels, 'loss_hint',
                                                student_downsample)
            if hint_adapter is not None:
                self.adapter = MODELS.build(
                    dict(dict(in_channels=s_channels, out_channels=t_channels,
                              num_levels=len(self.hint_levels)), **hint_adapter))
        if self.loss_hint_roi is not None:
            s_channels, t_channels = pair.roi_channels(self), pair.roi_channels(teacher)
            roi_adapter = pair.resolve_adapter(adapter, s_channels, t_channels,
                                               'loss_hint_roi', student_downsample)
            if roi_adapter is not None:
                self.roi_adapter = MODELS.build(
                    dict(roi_adapter, in_channels=s_channels, out_channels=t_channels,
                         num_levels=1))
        # the RPN head where its anchors sit on the teacher's as on its own grid
        same_rpn_grid = self.distill_rpn and anchors[1] == 'same anchors'
        self.inherit_teacher = pair.resolve_inherit(inherit_teacher, self, teacher,
                                                    same_rpn_grid, same_rcnn_coder)
        print_log(
            pair.describe(self.level_map, self.hint_levels if self.loss_hint else [],
                          hint_adapter, self.inherit_teacher, self.distill_rpn, anchors[1],
                          same_rcnn_coder and (self._same_rpn_coder or not self.distill_rpn),
                          type(teacher.roi_head).__name__), logger='current')

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
        teacher_img_metas = [sample.metainfo for sample in batch_data_samples]
        batch_inputs, batch_data_samples = self._student_batch(batch_inputs,
                                                               batch_data_samples)
        losses = dict()

        # 1. Features. The teacher never builds a graph.
        x = self.extract_feat(batch_inputs)
        with torch.no_grad():
            teacher_x = self.teacher.extract_feat(teacher_inputs)

        # 2. RPN: student hard losses (mu on the objectness) and sampled anchors; the
        #    teacher at the same anchors.
        rpn_outs = self.rpn_head(x)
        rpn_losses, rpn_targets = rpn_loss_and_targets(self.rpn_head, rpn_outs,
                                                       batch_data_samples)
        rpn_losses['loss_rpn_cls'] = [self.mu * loss for loss in rpn_losses['loss_rpn_cls']]
        losses.update(rpn_losses)
        if self.distill_rpn:
            with torch.no_grad():
                teacher_rpn_outs = self.teacher.rpn_head(teacher_x)
            losses.update(self._rpn_kd_losses(rpn_outs, teacher_rpn_outs, rpn_targets))

        # 3. Student proposals, then the student's RoI sampling.
        batch_img_metas = [sample.metainfo for sample in batch_data_samples]
        proposal_cfg = self.train_cfg.get('rpn_proposal', self.test_cfg.rpn)
        rpn_results_list = self.rpn_head.predict_by_feat(
            *rpn_outs, batch_img_metas=batch_img_metas, cfg=proposal_cfg)
        sampling_results = sample_rois(self.roi_head, x, rpn_results_list, batch_data_samples)

        # 4. R-CNN: student head and hard losses (mu on the classification); the teacher
        #    on the same RoIs, its regression of the RoIs' classes in the student's coding.
        rois = bbox2roi([res.priors for res in sampling_results])
        bbox_results = self.roi_head._bbox_forward(x, rois)
        bbox_loss_and_target = self.roi_head.bbox_head.loss_and_target(
            cls_score=bbox_results['cls_score'],
            bbox_pred=bbox_results['bbox_pred'],
            rois=rois,
            sampling_results=sampling_results,
            rcnn_train_cfg=self.roi_head.train_cfg)
        bbox_losses = bbox_loss_and_target['loss_bbox']
        bbox_losses['loss_cls'] = self.mu * bbox_losses['loss_cls']
        losses.update(bbox_losses)
        bbox_targets = bbox_loss_and_target['bbox_targets']
        with torch.no_grad():
            teacher_bbox_results = self.roi_teacher(
                teacher_x, _scale_rois(rois, self.student_downsample),
                self._target_classes(bbox_targets[0]), teacher_img_metas,
                with_feats=self.loss_hint_roi is not None)
        losses.update(self._rcnn_kd_losses(bbox_results, teacher_bbox_results, bbox_targets))
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

    def _target_classes(self, labels: Tensor) -> Tensor:
        """The class whose regression is distilled on each RoI: its label; background
        RoIs (label C) get class C - 1, masked out of the regression terms."""
        return labels.clamp(max=self.roi_head.bbox_head.num_classes - 1)

    def _rpn_kd_losses(self, rpn_outs: tuple, teacher_rpn_outs: tuple,
                       rpn_targets: tuple) -> dict:
        """Soft objectness on the sampled anchors, regression on the positive ones.

        Student level ``l`` meets the teacher's level with its anchors, every ``step``-th
        cell of it (``rpn_level_map``); student levels without one get no RPN
        distillation.
        """
        labels, label_weights, bbox_targets, bbox_weights, avg_factor, anchors = rpn_targets
        levels = sorted(self.rpn_level_map)
        teacher_rpn_outs = [[maps[t][..., ::step, ::step]
                             for t, step in (self.rpn_level_map[lvl] for lvl in levels)]
                            for maps in teacher_rpn_outs]
        teacher_levels = range(len(levels))
        (cls_score, bbox_pred), (teacher_cls, teacher_bbox) = (
            (flatten_outputs(outs[0], lvls, 1), flatten_outputs(outs[1], lvls, 4))
            for outs, lvls in ((rpn_outs, levels), (teacher_rpn_outs, teacher_levels)))
        if teacher_cls.shape != cls_score.shape:
            raise RuntimeError(
                f'teacher RPN gives {teacher_cls.shape[0]} anchors, the student '
                f'{cls_score.shape[0]}: their inputs or anchor generators do not match')
        sampled = flatten_targets(label_weights, levels)
        pos_weights = flatten_targets(bbox_weights, levels)[:, 0]
        reg_targets = flatten_targets(bbox_targets, levels)
        if not self._same_rpn_coder:
            teacher_bbox = recode(teacher_bbox, flatten_targets(anchors, levels),
                                  self.teacher.rpn_head.bbox_coder, self.rpn_head.bbox_coder)
        # Both terms are averaged over the M sampled anchors, as the paper's Eq. (1) and
        # mmdet's own loss_rpn_cls / loss_rpn_bbox (avg_factor); docs/method.md.
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

    def _rcnn_kd_losses(self, bbox_results: dict, teacher_bbox_results: dict,
                        bbox_targets: tuple) -> dict:
        """Soft classification on all sampled RoIs; regression on the positive ones, for
        the regression of their ground-truth class (the teacher's already selected)."""
        labels, label_weights, reg_targets, _ = bbox_targets
        cls_score, teacher_cls = bbox_results['cls_score'], teacher_bbox_results['cls_score']
        pos = (labels >= 0) & (labels < self.roi_head.bbox_head.num_classes)
        bbox_pred = class_regression(bbox_results['bbox_pred'], self._target_classes(labels))
        teacher_bbox = teacher_bbox_results['bbox_pred']
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
        teacher_feats = [teacher_x[self.level_map[lvl]] for lvl in self.hint_levels]
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


def _same_normalization(student: nn.Module, teacher: nn.Module) -> bool:
    if student._channel_conversion != teacher._channel_conversion:
        return False
    if student._enable_normalize != teacher._enable_normalize:
        return False
    return not student._enable_normalize or (torch.equal(student.mean, teacher.mean)
                                             and torch.equal(student.std, teacher.std))


def _build_optional(cfg: OptConfigType, enabled: bool = True) -> Optional[nn.Module]:
    return None if cfg is None or not enabled else MODELS.build(cfg)


def _masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    """Share of ``mask`` where boolean ``values`` hold; 0 for an empty mask (no sync)."""
    return (values & mask).sum() / mask.sum().clamp(min=1)


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
