"""The teacher's R-CNN targets: Faster and Cascade teachers on the student's RoIs, and the
teacher's regression re-encoded in the student's box coding."""
import os.path as osp

import pytest
import torch
from mmdet.models.task_modules.coders import DeltaXYWHBBoxCoder
from mmdet.registry import MODELS
from mmdet.structures.bbox import bbox2roi
from mmdet.utils import register_all_modules
from mmengine.config import Config
from mmengine.structures import InstanceData
from test_kd_two_stage import KD_KEYS, capture_inputs, kd_losses  # noqa: I001

import mmkd  # noqa: F401
from mmkd.detectors import kd_two_stage, teacher_targets
from mmkd.detectors.teacher_targets import recode

CFG_DIR = osp.join(osp.dirname(osp.dirname(__file__)), 'configs')
STUDENT_CFG = osp.join(CFG_DIR, 'tiny_faster_rcnn.py')
CASCADE_CFG = osp.join(CFG_DIR, 'tiny_cascade_rcnn.py')
METAS = [dict(img_shape=(96, 128), pad_shape=(96, 128), batch_input_shape=(96, 128),
              scale_factor=(1.0, 1.0))] * 2

register_all_modules()


def kd_model(teacher_config, **overrides):
    cfg = Config.fromfile(STUDENT_CFG).model
    cfg.update(type='KnowledgeDistillationTwoStageDetector', teacher_config=teacher_config,
               teacher_ckpt=None, **overrides)
    torch.manual_seed(0)
    return MODELS.build(cfg)


def rois_and_labels(seed=0, num=(7, 5)):
    """RoIs inside the 128 x 96 images of METAS, and labels 0..2 (2: background)."""
    torch.manual_seed(seed)
    boxes = []
    for n in num:
        xy = torch.rand(n, 2) * torch.tensor([80.0, 50.0])
        wh = 8 + torch.rand(n, 2) * 40
        boxes.append(torch.cat([xy, xy + wh], dim=1))
    return bbox2roi(boxes), torch.randint(0, 3, (sum(num), )), boxes


def features(model, seed=1):
    torch.manual_seed(seed)
    with torch.no_grad():
        return model.teacher.extract_feat(torch.randn(2, 3, 96, 128))


def test_recode_is_the_identity_for_equal_coders_and_rescales_for_other_stds():
    """DeltaXYWH decodes ``d * std`` and encodes ``/ std``: Cascade's first-stage deltas
    (stds 0.1, 0.1, 0.2, 0.2) are 0.1, 0.1, 0.2, 0.2 times the same box's deltas with unit
    stds (the RPN's), on any priors."""
    priors = torch.tensor([[10.0, 20.0, 50.0, 80.0], [0.0, 0.0, 16.0, 8.0]])
    deltas = torch.tensor([[0.3, -0.2, 0.5, -0.4], [-1.0, 0.5, 0.1, 0.2]])
    unit = DeltaXYWHBBoxCoder(target_stds=(1.0, 1.0, 1.0, 1.0))
    cascade = DeltaXYWHBBoxCoder(target_stds=(0.1, 0.1, 0.2, 0.2))
    torch.testing.assert_close(recode(deltas, priors, unit, unit), deltas)
    stds = torch.tensor([0.1, 0.1, 0.2, 0.2])
    torch.testing.assert_close(recode(deltas, priors, cascade, unit), deltas * stds)
    torch.testing.assert_close(recode(deltas, priors, unit, cascade), deltas / stds)


def test_teacher_regression_reaches_the_losses_in_the_students_coding(monkeypatch):
    """A teacher whose R-CNN and RPN coders use half the student's stds: the deltas the
    regression terms receive are half the same teacher's with the student's coders (same
    weights, same batch); with equal coders no re-encoding runs at all."""
    calls = {}
    for name, factor in (('same', 1.0), ('half', 0.5)):
        teacher = Config.fromfile(STUDENT_CFG)
        teacher.model.rpn_head.bbox_coder.target_stds = [factor] * 4
        teacher.model.roi_head.bbox_head.bbox_coder.target_stds = [
            factor * s for s in (0.1, 0.1, 0.2, 0.2)]
        model = kd_model(teacher, inherit_teacher=())
        if name == 'same':  # the identity costs nothing: recode is never called
            monkeypatch.setattr(kd_two_stage, 'recode', None)
            monkeypatch.setattr(teacher_targets, 'recode', None)
        calls[name] = (capture_inputs(model.loss_rpn_kd_bbox),
                       capture_inputs(model.loss_kd_bbox))
        kd_losses(model, seed=4)
        monkeypatch.undo()
    for same, half in zip(*calls.values()):
        (_, teacher_same, _, pos), _ = same[0]
        (_, teacher_half, _, _), _ = half[0]
        assert pos.sum() > 0
        torch.testing.assert_close(teacher_half, 0.5 * teacher_same, rtol=1e-4, atol=1e-4)


def test_one_stage_cascade_teacher_gives_the_faster_teachers_targets():
    """A Cascade teacher of one stage whose head is the Faster teacher's (same config,
    same weights): the same logits and features, the same regression (up to the decode /
    encode round trip)."""
    faster = Config.fromfile(STUDENT_CFG)
    cascade = Config.fromfile(CASCADE_CFG)
    cascade.model.roi_head.num_stages = 1
    cascade.model.roi_head.stage_loss_weights = [1]
    cascade.model.roi_head.bbox_head = [faster.model.roi_head.bbox_head]
    cascade.model.roi_head.bbox_roi_extractor = faster.model.roi_head.bbox_roi_extractor
    cascade.model.train_cfg.rcnn = [faster.model.train_cfg.rcnn]
    faster_kd, cascade_kd = kd_model(faster), kd_model(cascade)
    state = {k.replace('roi_head.bbox_head.', 'roi_head.bbox_head.0.'): v
             for k, v in faster_kd.teacher.state_dict().items()}
    cascade_kd.teacher.load_state_dict(state, strict=True)
    x = features(faster_kd)
    rois, labels, _ = rois_and_labels()
    ours = cascade_kd.roi_teacher(x, rois, labels.clamp(max=1), METAS, with_feats=True)
    theirs = faster_kd.roi_teacher(x, rois, labels.clamp(max=1), METAS, with_feats=True)
    assert torch.equal(ours['cls_score'], theirs['cls_score'])
    assert torch.equal(ours['bbox_feats'], theirs['bbox_feats'])
    assert theirs['bbox_pred'].abs().max() > 0.01
    torch.testing.assert_close(ours['bbox_pred'], theirs['bbox_pred'], rtol=1e-4, atol=1e-5)


def test_cascade_teacher_predicts_as_at_test_time_on_the_students_rois():
    """Three stages, each refining the boxes of the one before: the softmax of the logits
    is mmdet's own test-time score (the stages' mean), and the regression decoded on the
    student's RoIs by the student's coder is mmdet's own final box."""
    model = kd_model(CASCADE_CFG)
    x = features(model)
    rois, labels, boxes = rois_and_labels()
    ours = model.roi_teacher(x, rois, labels.clamp(max=1), METAS, with_feats=False)
    proposals = [InstanceData(bboxes=b) for b in boxes]
    theirs = model.teacher.roi_head.predict_bbox(x, METAS, proposals, rcnn_test_cfg=None)
    torch.testing.assert_close(ours['cls_score'].softmax(-1),
                               torch.cat([r.scores for r in theirs]))
    coder = model.roi_head.bbox_head.bbox_coder
    decoded = coder.decode(rois[:, 1:], ours['bbox_pred'], max_shape=(96, 128))
    torch.testing.assert_close(decoded, torch.cat([r.bboxes for r in theirs]),
                               rtol=1e-4, atol=1e-3)
    # not the first stage's: the refinement moved the boxes
    first = model.teacher.roi_head._bbox_forward(0, x, rois)['cls_score']
    assert not torch.allclose(first, ours['cls_score'])


def test_cascade_teacher_distils_a_faster_student():
    """Every term with a Cascade teacher: the RPN is distilled (same anchors), the hints
    need no adapter (same width), only the RPN head is inherited (the R-CNN heads differ);
    gradients reach the student, never the teacher."""
    model = kd_model(CASCADE_CFG, loss_hint_roi=dict(type='HintLoss', loss_weight=0.5))
    assert model.distill_rpn and model.adapter is None
    assert model.inherit_teacher == ['rpn_head']
    losses = kd_losses(model)
    for key in KD_KEYS + ('loss_hint_roi', ):
        assert torch.isfinite(losses[key]) and losses[key].item() > 0, key
    assert 0 <= losses['kd_teacher_acc'].item() <= 1
    total = sum(v for k, v in losses.items() if 'loss' in k and not isinstance(v, list))
    total.backward()
    assert model.neck.fpn_convs[0].conv.weight.grad.abs().sum() > 0
    assert model.roi_head.bbox_head.fc_cls.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.teacher.parameters())


@pytest.mark.parametrize('with_feats', [False, True])
def test_cascade_teacher_extracts_roi_features_only_for_the_roi_hint(with_feats):
    model = kd_model(CASCADE_CFG)
    rois, labels, _ = rois_and_labels()
    out = model.roi_teacher(features(model), rois, labels.clamp(max=1), METAS, with_feats)
    assert (out['bbox_feats'] is not None) == with_feats
    if with_feats:
        assert out['bbox_feats'].shape == (12, 32, 7, 7)
