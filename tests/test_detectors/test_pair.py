"""What a teacher-student pair allows, decided when the detector is built: FPN levels by
stride, the RPN where the anchors match, inherited heads where they fit, one log line."""
import copy
import os.path as osp

import pytest
import torch
from mmdet.utils import register_all_modules
from mmengine.config import Config
from test_kd_two_stage import KD_KEYS, STUDENT_CFG, build, defaults_cfg, kd_losses, mask_rcnn_cfg

import mmkd  # noqa: F401
from mmkd.detectors import pair

CFG_DIR = osp.join(osp.dirname(osp.dirname(__file__)), 'configs')
register_all_modules()


def four_level_teacher():
    """The student's architecture with FPN levels of stride 4 to 32 (the student has 64)."""
    cfg = Config.fromfile(STUDENT_CFG)
    cfg.model.neck.num_outs = 4
    cfg.model.rpn_head.anchor_generator.strides = [4, 8, 16, 32]
    return cfg


def test_levels_are_matched_by_stride_and_hints_use_the_levels_both_have():
    model = build(defaults_cfg(four_level_teacher()))
    assert model.level_map == {0: 0, 1: 1, 2: 2, 3: 3}
    assert model.hint_levels == [0, 1, 2, 3] and model.distill_rpn
    losses = kd_losses(model)
    assert all(k in losses for k in KD_KEYS)
    assert 'kd_hint_l4' not in losses and 'kd_hint_l3' in losses
    with pytest.raises(ValueError, match=r'hint_levels \[4\]: .* are \[0, 1, 2, 3\]'):
        build(defaults_cfg(four_level_teacher()).copy() | dict(hint_levels=[4]))


def test_rpn_of_a_four_level_teacher_is_distilled_on_the_four_levels_it_has():
    """The student's stride-64 anchors have no teacher counterpart: the RPN terms see
    only the anchors of the four levels both have."""
    model = build(defaults_cfg(four_level_teacher()))
    calls = []
    forward = model.loss_rpn_kd_cls.forward
    model.loss_rpn_kd_cls.forward = lambda *a, **k: calls.append(a) or forward(*a, **k)
    kd_losses(model)
    student_scores = calls[0][0]
    per_image = sum(96 // s * (128 // s) * 3 for s in (4, 8, 16, 32))
    assert student_scores.shape == (2 * per_image, 1)


def test_a_mask_student_inherits_the_box_head_of_a_faster_teacher():
    cfg = mask_rcnn_cfg()
    student = copy.deepcopy(cfg.model)
    student.update(type='KnowledgeDistillationTwoStageDetector', teacher_config=STUDENT_CFG,
                   teacher_ckpt=None)
    model = build(student)
    assert model.inherit_teacher == ['rpn_head', 'roi_head.bbox_head']
    torch.manual_seed(1)
    model.teacher.init_weights()
    model.init_weights()
    assert torch.equal(model.roi_head.bbox_head.fc_cls.weight,
                       model.teacher.roi_head.bbox_head.fc_cls.weight)


def test_heads_are_not_inherited_across_box_codings():
    """A head trained for another box coding would regress on the wrong scale."""
    teacher = Config.fromfile(STUDENT_CFG)
    teacher.model.roi_head.bbox_head.bbox_coder.target_stds = [0.05, 0.05, 0.1, 0.1]
    assert build(defaults_cfg(teacher)).inherit_teacher == ['rpn_head']
    explicit = defaults_cfg(teacher)
    explicit.inherit_teacher = ['rpn_head', 'roi_head']  # the user's choice wins
    assert build(explicit).inherit_teacher == ['rpn_head', 'roi_head']


def test_explicit_options_win_over_auto():
    cfg = defaults_cfg()  # the teacher is the student's architecture
    cfg.update(adapter=dict(type='FeatureAdapter', kernel_size=1), inherit_teacher=(),
               distill_rpn=False)
    model = build(cfg)
    assert model.adapter is not None and model.inherit_teacher == []
    assert not model.distill_rpn and 'loss_rpn_kd_cls' not in kd_losses(model)


def test_the_resolved_pair_is_said_once_in_the_log(monkeypatch):
    from mmkd.detectors import kd_two_stage
    lines = []
    monkeypatch.setattr(kd_two_stage, 'print_log', lambda msg, logger: lines.append(msg))
    build(defaults_cfg(osp.join(CFG_DIR, 'tiny_teacher_faster_rcnn.py')))
    assert len(lines) == 1
    assert lines[0] == (
        'mmkd: StandardRoIHead teacher; hints on student levels [0, 1, 2, 3, 4] through '
        'FeatureAdapter; RPN distilled; inherited from the teacher: nothing; same box coding')


def test_describe_names_what_is_off_and_why():
    text = pair.describe({0: 1, 1: 2}, [0, 1], None, ['roi_head'], False,
                         'the anchors differ (anchor_generator scales, ratios or strides) at '
                         'level 0', False, 'CascadeRoIHead')
    assert text == ('mmkd: CascadeRoIHead teacher; hints on student levels [0, 1] without '
                    'adapter (teacher levels [1, 2]); RPN not distilled (the anchors differ '
                    '(anchor_generator scales, ratios or strides) at level 0); inherited '
                    "from the teacher: roi_head; teacher regression re-encoded in the "
                    "student's box coding")


def test_smaller_student_anchors_meet_a_finer_teacher_level_every_second_cell(monkeypatch):
    """The same input, the teacher's anchors twice the student's: student level l + 1 has
    the anchors of teacher level l on a grid twice as fine; the student's smallest anchors
    the teacher lacks. The RPN head is not inherited: on its own grid it scores other
    anchors."""
    from mmkd.detectors import kd_two_stage
    lines = []
    monkeypatch.setattr(kd_two_stage, 'print_log', lambda msg, logger: lines.append(msg))
    teacher = Config.fromfile(STUDENT_CFG)
    teacher.model.rpn_head.anchor_generator.scales = [16]  # the student's: 8
    model = build(defaults_cfg(teacher))
    assert model.rpn_level_map == {1: (0, 2), 2: (1, 2), 3: (2, 2), 4: (3, 2)}
    assert model.distill_rpn and model.inherit_teacher == ['roi_head']
    assert 'RPN distilled (student levels [1, 2, 3, 4] on teacher levels [0, 1, 2, 3], a 2x ' \
        'finer grid)' in lines[0]
    calls = []
    forward = model.loss_rpn_kd_cls.forward
    model.loss_rpn_kd_cls.forward = lambda *a, **k: calls.append(a) or forward(*a, **k)
    losses = kd_losses(model)
    assert torch.isfinite(losses['loss_rpn_kd_cls']) and torch.isfinite(losses['loss_rpn_kd_bbox'])
    student_scores, teacher_scores = calls[0][:2]
    per_image = sum(-(-96 // s) * -(-128 // s) * 3 for s in (8, 16, 32, 64))  # levels 1-4
    assert student_scores.shape == teacher_scores.shape == (2 * per_image, 1)


def test_auto_adapter_where_the_widths_differ_or_the_teacher_sees_more_pixels():
    paper = dict(type='FeatureAdapter', kernel_size=1)
    assert pair.resolve_adapter('auto', 8, 8, 'loss_hint') is None
    assert pair.resolve_adapter('auto', 8, 16, 'loss_hint') == paper
    assert pair.resolve_adapter('auto', 8, 8, 'loss_hint', downsample=2) == paper
    assert pair.resolve_adapter(None, 8, 8, 'loss_hint', downsample=2) is None
    with pytest.raises(ValueError, match='the student has 8 and the teacher 16'):
        pair.resolve_adapter(None, 8, 16, 'loss_hint')


@pytest.mark.parametrize('adapter', ['auto', None])
def test_a_teacher_at_twice_the_resolution_meets_the_hints_through_the_papers_adapter(
        adapter, monkeypatch):
    """Equal widths, but student level l meets teacher level l + 1, features of another
    depth of the teacher's FPN: ``'auto'`` puts the paper's 1x1 conv on each hinted level,
    and the hint compares the adapted student map with the teacher's. ``None`` still
    compares the maps themselves."""
    from mmkd.detectors import kd_two_stage
    lines = []
    monkeypatch.setattr(kd_two_stage, 'print_log', lambda msg, logger: lines.append(msg))
    cfg = defaults_cfg()
    cfg.update(student_downsample=2, adapter=adapter)
    model = build(cfg)
    assert model.level_map == {0: 1, 1: 2, 2: 3, 3: 4} and model.hint_levels == [0, 1, 2, 3]
    channels = pair.neck_channels(model)
    if adapter is None:
        assert model.adapter is None and 'without adapter (teacher levels' in lines[0]
    else:
        convs = model.adapter.convs
        assert [(c.in_channels, c.out_channels, c.kernel_size) for c in convs] == \
            [(channels, channels, (1, 1))] * 4
        assert 'through FeatureAdapter (teacher levels [1, 2, 3, 4])' in lines[0]
    torch.manual_seed(3)
    x = tuple(torch.randn(2, channels, 24 // 2**i, 32 // 2**i) for i in range(5))
    teacher_x = tuple(torch.randn(2, channels, 48 // 2**i, 64 // 2**i) for i in range(5))
    ours = model._hint_losses(x, teacher_x)
    student = [x[lvl] if model.adapter is None else model.adapter.convs[lvl](x[lvl])
               for lvl in range(4)]
    expected = [model.loss_hint(s, teacher_x[lvl + 1]) for lvl, s in enumerate(student)]
    torch.testing.assert_close(ours['loss_hint'], sum(expected) / 4)
    torch.testing.assert_close(ours['kd_hint_l0'], expected[0] / model.loss_hint.loss_weight)
