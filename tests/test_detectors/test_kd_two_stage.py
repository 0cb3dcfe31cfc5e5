import copy
import os.path as osp

import pytest
import torch
from mmdet.registry import MODELS
from mmdet.testing import demo_mm_inputs
from mmdet.utils import register_all_modules
from mmengine.config import Config

import mmkd  # noqa: F401

CFG_DIR = osp.join(osp.dirname(osp.dirname(__file__)), 'configs')
STUDENT_CFG = osp.join(CFG_DIR, 'tiny_faster_rcnn.py')
KD_CFG = osp.join(CFG_DIR, 'tiny_kd_faster_rcnn.py')
KD_TEACHER_CFG = osp.join(CFG_DIR, 'tiny_teacher_faster_rcnn.py')
KD_KEYS = ('loss_rpn_kd_cls', 'loss_rpn_kd_bbox', 'loss_kd_cls', 'loss_kd_bbox', 'loss_hint')
ROI_HINT = dict(type='HintLoss', loss_weight=0.5)  # mmkd's RoI hint, off by default
ADAPTERS = ('adapter.', 'roi_adapter.')  # training-only modules, not the student's

register_all_modules()


def kd_model_cfg(**overrides):
    cfg = Config.fromfile(KD_CFG).model
    cfg.update(overrides)
    return cfg


def build(cfg):
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    return model


def batch(model, seed=0, num_items=(3, 2), shape=(3, 96, 128)):
    torch.manual_seed(seed)
    packed = demo_mm_inputs(2, [list(shape)] * 2, num_items=list(num_items), num_classes=2)
    return model.data_preprocessor(packed, True)


def kd_losses(model, seed=0, **kwargs):
    model.train()
    data = batch(model, seed, **kwargs)
    return model.loss(data['inputs'], data['data_samples'])


def teacher_equal_to_student(**overrides):
    """A KD model whose teacher has exactly the student's architecture and weights,
    and whose adapter is the identity."""
    model = build(kd_model_cfg(teacher_config=STUDENT_CFG, **overrides))
    model.teacher.load_state_dict(
        {k: v for k, v in model.state_dict().items() if not k.startswith(ADAPTERS)})
    for adapter in (model.adapter, model.roi_adapter):
        if adapter is not None:
            with torch.no_grad():
                for conv in adapter.convs:
                    conv.weight.copy_(torch.eye(conv.in_channels).view(*conv.weight.shape))
                    conv.bias.zero_()
    return model


def test_all_losses_present_and_finite():
    losses = kd_losses(build(kd_model_cfg()))
    for key in ('loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'loss_bbox') + KD_KEYS:
        values = losses[key] if isinstance(losses[key], list) else [losses[key]]
        assert all(torch.isfinite(v).all() for v in values), key


def test_gradients_reach_student_and_adapter_never_teacher():
    model = build(kd_model_cfg(loss_hint_roi=ROI_HINT))
    loss, _ = model.parse_losses(kd_losses(model))
    loss.backward()
    assert model.backbone.layer4[0].conv1.weight.grad.abs().sum() > 0
    assert all(p.grad is not None and p.grad.abs().sum() > 0
               for p in [*model.adapter.parameters(), *model.roi_adapter.parameters()])
    assert all(p.grad is None and not p.requires_grad for p in model.teacher.parameters())


def test_distillation_terms_alone_give_student_gradients():
    """Each KD term on its own moves the student (so none is silently detached)."""
    model = build(kd_model_cfg(loss_hint_roi=ROI_HINT))
    for key in KD_KEYS + ('loss_hint_roi', ):
        model.zero_grad()
        losses = kd_losses(model)
        losses[key].backward()
        grads = [p.grad for n, p in model.named_parameters()
                 if p.grad is not None and not n.startswith(ADAPTERS)]
        assert grads and sum(g.abs().sum() for g in grads) > 0, key


def test_teacher_kept_out_of_state_dict_parameters_and_train_mode():
    model = build(kd_model_cfg())
    student = build(Config.fromfile(STUDENT_CFG).model)
    keys = set(model.state_dict())
    assert keys - {k for k in keys if k.startswith(ADAPTERS)} == set(student.state_dict())
    teacher_params = {id(p) for p in model.teacher.parameters()}
    assert not teacher_params & {id(p) for p in model.parameters()}
    model.train()
    assert model.training and model.backbone.training and not model.teacher.training
    assert not any(m.training for m in model.teacher.modules())


def capture_inputs(module):
    """Record the arguments of every call of ``module`` (a loss) in a list."""
    calls, forward = [], module.forward

    def record(*args, **kwargs):
        calls.append((args, kwargs))
        return forward(*args, **kwargs)

    module.forward = record
    return calls


def capture_bbox_forwards(model):
    """Record, per ``'student'`` and ``'teacher'``, the RoIs, the P2 shape and the result
    of the last ``_bbox_forward`` of that R-CNN head."""
    seen = {}
    for name, head in (('student', model.roi_head), ('teacher', model.teacher.roi_head)):
        forward = head._bbox_forward

        def record(x, rois, forward=forward, name=name):
            result = forward(x, rois)
            seen[name] = dict(rois=rois.clone(), p2_shape=x[0].shape, result=result)
            return result

        head._bbox_forward = record
    return seen


def test_identical_teacher_gives_zero_bounded_and_hint_losses_and_entropy_soft_loss():
    """Same weights, same input, same anchors and RoIs: the student is never worse than
    the teacher, and the soft loss is the weighted entropy of the student itself."""
    model = teacher_equal_to_student(loss_hint_roi=ROI_HINT)
    soft_calls = capture_inputs(model.loss_kd_cls)
    losses = kd_losses(model)
    assert losses['loss_rpn_kd_bbox'].item() == 0.0
    assert losses['loss_kd_bbox'].item() == 0.0
    assert losses['loss_hint'].item() == pytest.approx(0.0, abs=1e-10)
    assert losses['loss_hint_roi'].item() == pytest.approx(0.0, abs=1e-10)
    (student_logits, teacher_logits, _), _ = soft_calls[0]
    assert torch.equal(student_logits, teacher_logits)
    p = student_logits.softmax(1)
    w = torch.ones(p.size(1))
    w[-1] = 1.5  # background weight
    entropy = -(w * p * p.log()).sum(1).mean()
    assert torch.allclose(losses['loss_kd_cls'], 0.5 * entropy)


def test_identical_teacher_diagnostics_show_full_agreement():
    model = teacher_equal_to_student()
    losses = kd_losses(model)
    assert losses['kd_rpn_agree'].item() == 1.0
    assert losses['kd_rcnn_agree'].item() == 1.0
    assert losses['kd_rpn_bound_active'].item() == 0.0
    assert losses['kd_rcnn_bound_active'].item() == 0.0
    assert all(losses[f'kd_hint_l{i}'].item() == pytest.approx(0, abs=1e-10) for i in range(5))
    # the teacher is the student: its accuracy on the sampled RoIs is mmdet's acc (percent)
    assert torch.allclose(100 * losses['kd_teacher_acc'], losses['acc'])


def test_diagnostics_are_logged_not_optimised_and_can_be_switched_off():
    model = build(kd_model_cfg(loss_hint_roi=ROI_HINT))
    losses = kd_losses(model)
    diagnostics = [k for k in losses if k.startswith('kd_')]
    assert sorted(diagnostics) == sorted(
        ['kd_rpn_agree', 'kd_rpn_bound_active', 'kd_rcnn_agree', 'kd_teacher_acc',
         'kd_rcnn_bound_active', 'kd_hint_roi'] + [f'kd_hint_l{i}' for i in range(5)])
    assert all(not losses[k].requires_grad and 0 <= losses[k].item() for k in diagnostics)
    assert all(losses[k].item() <= 1 for k in diagnostics if 'hint' not in k)
    total, log_vars = model.parse_losses(losses)
    terms = sum(log_vars[k] for k in log_vars if k.startswith('loss_'))
    assert total.item() == pytest.approx(float(terms), rel=1e-6)  # no kd_* value in it
    # unweighted: level i's hint loss, gamma = 0.5 removed, averaged into loss_hint
    hints = [losses[f'kd_hint_l{i}'] for i in range(5)]
    assert torch.allclose(losses['loss_hint'], 0.5 * sum(hints) / 5)
    assert torch.allclose(losses['loss_hint_roi'], 0.5 * losses['kd_hint_roi'])
    assert not any(k.startswith('kd_') for k in kd_losses(build(kd_model_cfg(
        diagnostics=False))))


def test_bounded_losses_are_averaged_over_the_sampled_batch_as_eq_1():
    """Eq. (1): 1/M over the M sampled anchors, 1/N over the N sampled RoIs, as mmdet
    averages loss_rpn_bbox and loss_bbox (not over the positives)."""
    model = build(kd_model_cfg())
    rpn_calls = capture_inputs(model.loss_rpn_kd_bbox)
    rcnn_calls = capture_inputs(model.loss_kd_bbox)
    rpn_soft_calls = capture_inputs(model.loss_rpn_kd_cls)
    kd_losses(model)
    (_, _, _, rpn_pos), rpn_kwargs = rpn_calls[0]
    (_, _, sampled), rpn_soft_kwargs = rpn_soft_calls[0]
    # 2 images x 64 sampled anchors; the soft and the bounded term share the average
    assert int(sampled.sum()) == rpn_kwargs['avg_factor'] == rpn_soft_kwargs['avg_factor'] == 128
    assert 0 < int(rpn_pos.sum()) < 128
    (_, _, _, rcnn_pos), rcnn_kwargs = rcnn_calls[0]
    assert rcnn_kwargs['avg_factor'] == rcnn_pos.numel() == 2 * 32
    assert 0 < int(rcnn_pos.sum()) < 64


def test_hard_losses_equal_two_stage_detector_with_every_term_off_and_mu_1():
    """The RPN and RoI code that follows mmdet 3.3 (RPNHead.loss_by_feat,
    StandardRoIHead.loss) gives mmdet's losses exactly, for the same weights and seed."""
    model = build(kd_model_cfg(
        loss_rpn_kd_cls=None, loss_rpn_kd_bbox=None, loss_kd_cls=None, loss_kd_bbox=None,
        loss_hint=None, loss_hint_roi=None, diagnostics=False, mu=1.0))
    plain = build(Config.fromfile(STUDENT_CFG).model)
    plain.load_state_dict(model.state_dict(), strict=True)
    model.train()
    plain.train()
    data = batch(model, num_items=(4, 3))
    torch.manual_seed(3)
    ours = model.loss(data['inputs'], copy.deepcopy(data['data_samples']))
    torch.manual_seed(3)
    theirs = plain.loss(data['inputs'], copy.deepcopy(data['data_samples']))
    assert sorted(ours) == sorted(theirs)
    for key, value in theirs.items():
        if isinstance(value, list):  # per RPN level
            assert len(ours[key]) == len(value), key
            assert all(torch.equal(a, b) for a, b in zip(ours[key], value)), key
        else:
            assert torch.equal(ours[key], value), key


@pytest.mark.parametrize('downsample', [1, 2])
def test_rpn_outputs_meet_their_own_anchors(downsample):
    """The teacher's objectness and deltas are flattened in the anchor order of
    get_targets: a teacher whose outputs encode each anchor's geometry shows it. A student
    at half the teacher's input with anchors halved for it meets the teacher's levels of
    its anchors (twice as fine a grid, every second cell)."""
    cfg = defaults_cfg()  # 'auto': the RPN head inherited where on the same grid
    cfg.student_downsample = downsample
    if downsample > 1:
        cfg.rpn_head.anchor_generator.scales = [8 // downsample]  # the teacher's: 8
    model = build(cfg)
    assert model.rpn_level_map == {lvl: (lvl, downsample) for lvl in range(5)}
    assert ('rpn_head' in model.inherit_teacher) == (downsample == 1)
    teacher_head = model.teacher.rpn_head
    generator = teacher_head.prior_generator

    def code(box):  # centre and width: distinct for every anchor of the image
        x1, y1, x2, y2 = box.unbind(-1)
        return (x1 + x2) + 1e3 * (y1 + y2) + 1e6 * (x2 - x1)

    def encoded_forward(feats):
        cls_maps, reg_maps = [], []
        for lvl, feat in enumerate(feats):
            n, _, h, w = feat.shape
            anchors = generator.single_level_grid_priors((h, w), lvl, device='cpu').double()
            value = code(anchors).view(h, w, -1).permute(2, 0, 1)  # (A, H, W)
            cls_maps.append(value[None].expand(n, -1, -1, -1))
            reg_maps.append(value.repeat_interleave(4, 0)[None].expand(n, -1, -1, -1))
        return cls_maps, reg_maps

    teacher_head.forward = encoded_forward
    cls_calls = capture_inputs(model.loss_rpn_kd_cls)
    reg_calls = capture_inputs(model.loss_rpn_kd_bbox)
    data = batch(model, shape=(3, 128, 192))
    model.train()
    model.loss(data['inputs'], data['data_samples'])
    inputs, samples = model._student_batch(data['inputs'], data['data_samples'])
    metas = [s.metainfo for s in samples]
    sizes = [f.shape[-2:] for f in model.extract_feat(inputs)]
    anchors, _ = model.rpn_head.get_anchors(sizes, metas, device='cpu')
    # the student's anchors in the teacher's pixels
    flat = torch.cat([torch.cat(per_img) for per_img in anchors]).double() * downsample
    (_, teacher_cls, _), _ = cls_calls[0]
    (_, teacher_reg, _, _), _ = reg_calls[0]
    assert torch.equal(teacher_cls.reshape(-1), code(flat))
    assert torch.equal(teacher_reg, code(flat)[:, None].expand(-1, 4))


def test_roi_hint_is_l2_between_adapted_student_and_teacher_roi_features():
    """loss_hint_roi = gamma * mean (adapt(student RoI features) - teacher's)^2, on the
    pooled features of the same sampled RoIs; the adapter maps 32 to 48 channels."""
    model = build(kd_model_cfg(loss_hint_roi=ROI_HINT))
    seen = capture_bbox_forwards(model)
    losses = kd_losses(model)
    student = seen['student']['result']['bbox_feats']
    teacher = seen['teacher']['result']['bbox_feats']
    assert student.shape[1] == 32 and teacher.shape[1] == 48
    assert student.shape[0] == teacher.shape[0] == 64 and student.shape[2:] == (7, 7)
    conv = model.roi_adapter.convs[0]
    adapted = torch.einsum('oi,nihw->nohw', conv.weight[:, :, 0, 0], student)
    adapted = adapted + conv.bias.view(1, -1, 1, 1)
    expected = 0.5 * ((adapted - teacher)**2).mean()
    assert torch.allclose(losses['loss_hint_roi'], expected, rtol=1e-5)
    assert losses['loss_hint_roi'].item() > 0
    # the gradient reaches the student's RoI features, never the teacher's
    assert losses['loss_hint_roi'].requires_grad and not teacher.requires_grad


def test_roi_hint_is_off_by_default_the_papers_hint_alone():
    model = build(kd_model_cfg())
    losses = kd_losses(model)
    assert model.roi_adapter is None and 'loss_hint_roi' not in losses
    assert 'kd_hint_roi' not in losses and 'loss_hint' in losses
    assert not any(k.startswith('roi_adapter.') for k in model.state_dict())


def test_error_hints_without_adapter_need_matching_channels():
    """The tiny teacher has 48 channels, the student 32: refused at build time, naming
    the term, before any training."""
    with pytest.raises(ValueError, match=r'loss_hint without an adapter.*32.*48'):
        build(kd_model_cfg(adapter=None))
    with pytest.raises(ValueError, match=r'loss_hint_roi without an adapter.*32.*48'):
        build(kd_model_cfg(adapter=None, loss_hint=None, loss_hint_roi=ROI_HINT))


def test_inherit_teacher_copies_the_named_modules_in_init_weights():
    """Student heads start as the teacher's (copies, not shared tensors); the rest of
    the student keeps its own initialisation; nothing is copied with ``()``."""
    model = build(kd_model_cfg(teacher_config=STUDENT_CFG,
                               inherit_teacher=['rpn_head', 'roi_head']))
    torch.manual_seed(1)
    model.teacher.init_weights()
    model.init_weights()
    teacher_state = model.teacher.state_dict()
    student_state = model.state_dict()
    heads = [k for k in student_state if k.startswith(('rpn_head.', 'roi_head.'))]
    assert len(heads) == 14  # weights, biases: RPN conv, cls, reg; two fcs, cls, reg
    for key in heads:
        assert torch.equal(student_state[key], teacher_state[key]), key
    assert not torch.equal(student_state['backbone.conv1.weight'],
                           teacher_state['backbone.conv1.weight'])
    with torch.no_grad():
        model.rpn_head.rpn_cls.weight.add_(1.0)
    assert not torch.equal(model.rpn_head.rpn_cls.weight, model.teacher.rpn_head.rpn_cls.weight)

    plain = build(kd_model_cfg(teacher_config=STUDENT_CFG))
    plain.init_weights()
    assert not torch.equal(plain.rpn_head.rpn_cls.weight, plain.teacher.rpn_head.rpn_cls.weight)


def defaults_cfg(teacher_config=STUDENT_CFG):
    """The detector with every distillation argument at its default."""
    cfg = Config.fromfile(STUDENT_CFG).model
    cfg.update(type='KnowledgeDistillationTwoStageDetector', teacher_config=teacher_config,
               teacher_ckpt=None)
    return cfg


def test_defaults_inherit_the_heads_drop_the_adapter_and_regress_to_the_teacher():
    """mmkd's defaults, the paper's method with three changes: the RPN and R-CNN heads
    start from the teacher's, the hint has no adapter, both regression terms are L2 to
    the teacher's regression. With a teacher equal to the student (weights copied),
    every distillation term but the soft losses is exactly 0; perturb the teacher's
    R-CNN regression and loss_kd_bbox is nu times the mean squared distance over the
    sampled RoIs' positives, divided by the sampled count."""
    from mmkd.losses import TeacherL2RegressionLoss
    model = build(defaults_cfg())
    assert model.adapter is None and model.inherit_teacher == ['rpn_head', 'roi_head']
    for loss in (model.loss_rpn_kd_bbox, model.loss_kd_bbox):
        assert type(loss) is TeacherL2RegressionLoss and loss.loss_weight == 0.5
    torch.manual_seed(1)
    model.teacher.init_weights()
    model.init_weights()
    teacher_state = model.teacher.state_dict()
    for key, value in model.state_dict().items():
        if key.startswith(('rpn_head.', 'roi_head.')):
            assert torch.equal(value, teacher_state[key]), key
    model.teacher.load_state_dict(model.state_dict())
    losses = kd_losses(model)
    for key in ('loss_rpn_kd_bbox', 'loss_kd_bbox', 'loss_hint'):
        assert losses[key].item() == pytest.approx(0.0, abs=1e-10), key

    seen, calls = capture_bbox_forwards(model), capture_inputs(model.loss_kd_bbox)
    with torch.no_grad():
        model.teacher.roi_head.bbox_head.fc_reg.bias.add_(0.1)  # every delta moves by 0.1
    losses = kd_losses(model)
    num_sampled = seen['student']['rois'].shape[0]
    (_, _, _, pos), kwargs = calls[0]
    num_pos = int(pos.sum())
    assert 0 < num_pos < num_sampled and kwargs['avg_factor'] == num_sampled
    expected = 0.5 * num_pos * 4 * 0.1**2 / num_sampled
    assert losses['loss_kd_bbox'].item() == pytest.approx(expected, rel=1e-4)


def test_defaults_resolve_for_a_wider_teacher_explicit_options_win():
    """The tiny teacher's neck is 48 channels wide, the student's 32: the defaults hint
    through the paper's 1x1 adapter and inherit nothing (no head fits); explicitly
    adapter-less hints or inherited heads are refused, naming the option to set."""
    model = build(defaults_cfg(KD_TEACHER_CFG))
    assert model.adapter is not None and model.inherit_teacher == []
    assert [conv.weight.shape[:2] for conv in model.adapter.convs] == [(48, 32)] * 5
    assert model.distill_rpn and model.hint_levels == [0, 1, 2, 3, 4]
    assert all(k in kd_losses(model) for k in KD_KEYS)
    cfg = defaults_cfg(KD_TEACHER_CFG)
    cfg.adapter = None
    with pytest.raises(ValueError, match=r"loss_hint without an adapter.*32.*48.*set "
                       r"adapter=dict\(type='FeatureAdapter'"):
        build(cfg)
    cfg = defaults_cfg(KD_TEACHER_CFG)
    cfg.inherit_teacher = ['rpn_head']
    with pytest.raises(ValueError, match=r"'rpn_head.rpn_conv.weight' is .* set "
                       r'inherit_teacher=\(\)'):
        build(cfg)


def test_mu_scales_the_students_hard_classification_losses_only():
    """mu lives in the detector: the student's objectness and R-CNN classification losses
    are mu times mmdet's, its regression losses unchanged."""
    losses = {}
    for mu in (1.0, 0.25):
        model = build(kd_model_cfg(mu=mu))
        torch.manual_seed(3)
        losses[mu] = kd_losses(model)
    for key in ('loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'loss_bbox'):
        full, scaled = losses[1.0][key], losses[0.25][key]
        factor = 0.25 if key in ('loss_rpn_cls', 'loss_cls') else 1.0
        full, scaled = sum(full) if isinstance(full, list) else full, \
            sum(scaled) if isinstance(scaled, list) else scaled  # RPN: per level
        assert full.item() > 0
        assert scaled.item() == pytest.approx(factor * full.item(), rel=1e-6), key


def test_error_inherit_teacher_names_the_module_or_weight_that_does_not_fit():
    with pytest.raises(ValueError, match=r"inherit_teacher: the student has no module 'rpn'"):
        build(kd_model_cfg(teacher_config=STUDENT_CFG, inherit_teacher=['rpn']))
    # the tiny teacher's heads are 48 channels wide, the student's 32
    with pytest.raises(ValueError, match=r"'rpn_head.rpn_conv.weight' is \(32, 32, 3, 3\) in "
                       r'the student and \(48, 48, 3, 3\) in the teacher'):
        build(kd_model_cfg(inherit_teacher=['rpn_head']))


def test_teacher_rcnn_head_sees_exactly_the_students_sampled_rois():
    model = build(kd_model_cfg())
    seen = capture_bbox_forwards(model)
    kd_losses(model)
    assert seen['student']['rois'].shape[0] > 0
    assert torch.equal(seen['student']['rois'], seen['teacher']['rois'])


def test_predict_equals_plain_faster_rcnn_with_same_weights():
    model = build(kd_model_cfg())
    plain = build(Config.fromfile(STUDENT_CFG).model)
    state = {k: v for k, v in model.state_dict().items() if not k.startswith(ADAPTERS)}
    plain.load_state_dict(state, strict=True)
    model.eval()
    plain.eval()
    data = model.data_preprocessor(
        demo_mm_inputs(2, [[3, 96, 128]] * 2, num_items=[3, 2], num_classes=2), False)
    with torch.no_grad():
        ours = model.predict(data['inputs'], copy.deepcopy(data['data_samples']))
        theirs = plain.predict(data['inputs'], copy.deepcopy(data['data_samples']))
    for a, b in zip(ours, theirs):
        assert len(a.pred_instances) == len(b.pred_instances) > 0
        assert torch.equal(a.pred_instances.bboxes, b.pred_instances.bboxes)
        assert torch.equal(a.pred_instances.scores, b.pred_instances.scores)


def test_disabled_terms_are_absent():
    losses = kd_losses(build(kd_model_cfg(loss_rpn_kd_bbox=None, loss_hint=None)))
    assert 'loss_rpn_kd_bbox' not in losses and 'loss_hint' not in losses
    assert 'loss_kd_cls' in losses


def test_hint_without_adapter_needs_matching_channels():
    losses = kd_losses(teacher_equal_to_student(adapter=None))
    assert losses['loss_hint'].item() == pytest.approx(0.0, abs=1e-10)


def test_teacher_gets_its_own_normalisation():
    teacher_cfg = Config.fromfile(STUDENT_CFG)
    teacher_cfg.model.data_preprocessor.update(
        mean=[103.53, 116.28, 123.675], std=[57.375, 57.12, 58.395], bgr_to_rgb=False)
    model = build(kd_model_cfg(teacher_config=teacher_cfg))
    packed = demo_mm_inputs(2, [[3, 96, 128]] * 2, num_classes=2)
    student_inputs = model.data_preprocessor(copy.deepcopy(packed), True)['inputs']
    teacher_inputs = model.teacher.data_preprocessor(copy.deepcopy(packed), True)['inputs']
    assert not torch.allclose(student_inputs, teacher_inputs)
    assert torch.allclose(model._teacher_inputs(student_inputs), teacher_inputs, atol=1e-4)


def test_high_resolution_teacher_meets_student_one_level_up():
    """student_downsample=2: the teacher sees the full batch, the student half of it;
    the teacher's R-CNN head gets the student's RoIs scaled by 2."""
    model = build(kd_model_cfg(student_downsample=2, teacher_config=STUDENT_CFG))
    seen = capture_bbox_forwards(model)
    losses = kd_losses(model, shape=(3, 128, 192))
    assert all(torch.isfinite(losses[k]) for k in KD_KEYS)
    student_rois, student_p2 = seen['student']['rois'], seen['student']['p2_shape']
    teacher_rois, teacher_p2 = seen['teacher']['rois'], seen['teacher']['p2_shape']
    assert tuple(teacher_p2[-2:]) == (32, 48) and tuple(student_p2[-2:]) == (16, 24)
    assert torch.equal(teacher_rois[:, 0], student_rois[:, 0])
    assert torch.allclose(teacher_rois[:, 1:], 2 * student_rois[:, 1:])
    assert model.hint_levels == [0, 1, 2, 3]


def mask_rcnn_cfg():
    """The tiny student as a Mask R-CNN (the same box branch, a small mask head)."""
    cfg = Config.fromfile(STUDENT_CFG)
    cfg.model.roi_head.update(
        mask_roi_extractor=dict(
            type='SingleRoIExtractor', roi_layer=dict(type='RoIAlign', output_size=14,
                                                      sampling_ratio=0),
            out_channels=32, featmap_strides=[4, 8, 16, 32]),
        mask_head=dict(type='FCNMaskHead', num_convs=1, in_channels=32, conv_out_channels=32,
                       num_classes=2, loss_mask=dict(type='CrossEntropyLoss', use_mask=True,
                                                     loss_weight=1.0)))
    cfg.model.train_cfg.rcnn.mask_size = 28
    cfg.model.type = 'MaskRCNN'
    return cfg


def test_mask_rcnn_student_keeps_its_hard_mask_loss():
    cfg = mask_rcnn_cfg()
    kd_cfg = copy.deepcopy(cfg.model)
    kd_cfg.update(type='KnowledgeDistillationTwoStageDetector', teacher_config=cfg)
    model = build(kd_cfg)
    model.train()
    torch.manual_seed(0)
    packed = demo_mm_inputs(2, [[3, 96, 128]] * 2, num_items=[3, 2], num_classes=2,
                            with_mask=True)
    data = model.data_preprocessor(packed, True)
    losses = model.loss(data['inputs'], data['data_samples'])
    assert torch.isfinite(losses['loss_mask'])
    assert all(k in losses for k in KD_KEYS)


def test_error_teacher_with_other_number_of_classes():
    teacher_cfg = Config.fromfile(STUDENT_CFG)
    teacher_cfg.model.roi_head.bbox_head.num_classes = 80
    with pytest.raises(ValueError, match='teacher has 80 classes, student 2'):
        build(kd_model_cfg(teacher_config=teacher_cfg))


def test_error_unsupported_roi_head():
    """A Cascade teacher is distilled, a Cascade student is not; a teacher head that is
    not a StandardRoIHead or CascadeRoIHead (a subclass included) is refused."""
    cascade = osp.join(CFG_DIR, 'tiny_cascade_rcnn.py')
    cfg = Config.fromfile(cascade).model
    cfg.update(type='KnowledgeDistillationTwoStageDetector', teacher_config=cascade)
    with pytest.raises(TypeError, match='student RoI head CascadeRoIHead is not supported'):
        build(cfg)
    teacher = Config.fromfile(STUDENT_CFG)
    teacher.model.roi_head.update(type='DoubleHeadRoIHead', reg_roi_scale_factor=1.3)
    with pytest.raises(TypeError, match='teacher RoI head DoubleHeadRoIHead is not supported'):
        build(kd_model_cfg(teacher_config=teacher))


def test_error_missing_teacher_config():
    with pytest.raises(FileNotFoundError, match="teacher_config 'nope/teacher.py' not found"):
        build(kd_model_cfg(teacher_config='nope/teacher.py'))


def test_other_anchors_turn_the_rpn_terms_off_and_keep_the_rest():
    """Only the RPN terms need the same anchors: 'auto' drops them (the teacher's RPN is
    not even run) and keeps the R-CNN terms and the hints; distill_rpn=True is refused."""
    teacher_cfg = Config.fromfile(STUDENT_CFG)
    teacher_cfg.model.rpn_head.anchor_generator.scales = [4]
    model = build(defaults_cfg(teacher_cfg))
    assert not model.distill_rpn and model.inherit_teacher == ['roi_head']
    model.teacher.rpn_head.forward = None  # never called
    losses = kd_losses(model)
    assert 'loss_rpn_kd_cls' not in losses and 'loss_rpn_kd_bbox' not in losses
    assert 'kd_rpn_agree' not in losses
    assert all(torch.isfinite(losses[k]) for k in ('loss_kd_cls', 'loss_kd_bbox', 'loss_hint'))
    with pytest.raises(ValueError, match=r'distill_rpn=True, but the anchors differ'):
        build(kd_model_cfg(teacher_config=teacher_cfg, distill_rpn=True))


def test_error_bad_downsample_and_hint_levels():
    with pytest.raises(ValueError, match='power of two'):
        build(kd_model_cfg(student_downsample=3))
    with pytest.raises(ValueError, match=r'hint_levels \[7\]'):
        build(kd_model_cfg(hint_levels=[7]))


def test_error_missing_teacher_checkpoint_names_the_path():
    with pytest.raises(FileNotFoundError, match="teacher_ckpt '/no/such/teacher.pth' not found"):
        build(kd_model_cfg(teacher_ckpt='/no/such/teacher.pth'))


def test_error_teacher_checkpoint_that_does_not_fit_lists_mismatches(tmp_path):
    from mmkd.utils import CheckpointLoadError
    student = build(Config.fromfile(STUDENT_CFG).model)  # 32 channels, the teacher has 48
    ckpt = str(tmp_path / 'student.pth')
    torch.save(dict(state_dict=student.state_dict()), ckpt)
    with pytest.raises(CheckpointLoadError, match=r'does not fit teacher_config(.|\n)*'
                       r'neck.lateral_convs.0.conv.weight \(32, 64, 1, 1\) in checkpoint'):
        build(kd_model_cfg(teacher_ckpt=ckpt))


def test_teacher_checkpoint_is_loaded_exactly(tmp_path):
    teacher = build(Config.fromfile(osp.join(CFG_DIR, 'tiny_teacher_faster_rcnn.py')).model)
    ckpt = str(tmp_path / 'teacher.pth')
    torch.save(dict(state_dict=teacher.state_dict()), ckpt)
    torch.manual_seed(1)
    model = MODELS.build(kd_model_cfg(teacher_ckpt=ckpt))
    for key, value in teacher.state_dict().items():
        assert torch.equal(model.teacher.state_dict()[key], value), key


def test_teacher_moves_and_casts_with_the_student():
    model = build(kd_model_cfg())
    model.double()
    assert all(p.dtype == torch.float64 for p in model.teacher.parameters())
    model.teacher.data_preprocessor._device = None
    model.to('cpu')
    assert model.teacher.data_preprocessor._device == torch.device('cpu')
