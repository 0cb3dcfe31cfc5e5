"""Every config under configs/ loads and its model builds (no weights downloaded)."""
import glob
import inspect
import os.path as osp

import pytest
import torch
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules
from mmengine.config import Config

import mmkd  # noqa: F401

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(p for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True)
                 if '/_base_/' not in p)  # fragments, as in mmdet's own config tests

HOOKS = ['TeacherCheckHook', 'StopOnNonFiniteLossHook', 'ExactResumeHook',
         'TeacherProvenanceHook']  # on in every mmkd config
register_all_modules()


def load(path):
    cfg = Config.fromfile(path)
    if cfg.model.get('teacher_ckpt') is not None:
        cfg.model.teacher_ckpt = None
    cfg.model.backbone.init_cfg = None
    return cfg


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(p, ROOT))
def test_config_loads_and_builds(path):
    cfg = load(path)
    model = MODELS.build(cfg.model)
    if cfg.model.type == 'KnowledgeDistillationTwoStageDetector':
        assert cfg.custom_imports.imports == ['mmkd']
        assert not any(k.startswith('teacher') for k in model.state_dict())
        assert model.teacher.roi_head.bbox_head.num_classes == \
            model.roi_head.bbox_head.num_classes


def test_main_config_is_mmkds_defaults_on_the_papers_constants():
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'kd_faster_rcnn_r50_r18.py'))
    model = cfg.model
    assert model.backbone.depth == 18
    assert model.neck.in_channels == [64, 128, 256, 512]
    assert model.teacher_config == 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'
    assert model.teacher_ckpt.startswith('https://download.openmmlab.com/')
    mu = model.mu
    assert mu == 0.5 and model.rpn_head.loss_cls.loss_weight == 1.0  # mmdet's own weight
    for key in ('loss_rpn_kd_cls', 'loss_kd_cls'):
        assert model[key].loss_weight == 1 - mu and model[key].bg_weight == 1.5
        assert model[key].T == 1.0
    assert model.loss_kd_bbox.loss_weight == model.loss_rpn_kd_bbox.loss_weight == 0.5  # nu
    # mmkd's three changes to the paper's method (kd_faster_rcnn_r50_r18_paper.py)
    assert model.loss_kd_bbox.type == model.loss_rpn_kd_bbox.type == 'TeacherL2RegressionLoss'
    assert model.adapter == model.inherit_teacher == model.distill_rpn == 'auto'
    assert model.loss_hint.loss_weight == 0.5 and model.loss_hint.loss_type == 'l2'
    assert model.loss_hint.normalize is False  # the paper's plain L2
    assert model.loss_hint_roi is None  # mmkd's RoI hint: off, it did not measurably win
    assert cfg.train_dataloader.batch_size == 2 and cfg.train_cfg.max_epochs == 12
    assert [h.type for h in cfg.custom_hooks] == HOOKS


def test_shared_kd_block_is_the_detectors_defaults():
    """The block every config inherits and the detector's own defaults are the same."""
    from mmkd.detectors import KnowledgeDistillationTwoStageDetector
    block = Config.fromfile(osp.join(ROOT, 'configs', '_base_', 'kd_chen2017.py')).kd_chen2017
    defaults = inspect.signature(KnowledgeDistillationTwoStageDetector).parameters
    for key in ('loss_rpn_kd_cls', 'loss_rpn_kd_bbox', 'loss_kd_cls', 'loss_kd_bbox',
                'loss_hint', 'hint_levels', 'loss_hint_roi', 'adapter', 'diagnostics',
                'eval_teacher', 'inherit_teacher', 'distill_rpn', 'mu'):
        value = block[key].to_dict() if hasattr(block[key], 'to_dict') else block[key]
        default = defaults[key].default
        if isinstance(default, tuple):
            value = tuple(value)
        assert value == default, key


def test_mmdet_teacher_config_resolves_from_any_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = load(osp.join(ROOT, 'configs', 'kd_faster_rcnn_r50_r18.py'))
    model = MODELS.build(cfg.model)
    assert model.teacher.backbone.depth == 50


def test_resolution_config_halves_the_students_input():
    cfg = load(osp.join(ROOT, 'configs', 'kd_faster_rcnn_r50_r18_halfres.py'))
    assert cfg.model.student_downsample == 2
    assert cfg.model.data_preprocessor.pad_size_divisor == 64
    resize = [t for t in cfg.test_dataloader.dataset.pipeline if t.type == 'Resize'][0]
    assert resize.scale == (667, 400)
    model = MODELS.build(cfg.model)
    assert model.level_map == {0: 1, 1: 2, 2: 3, 3: 4} and model.hint_levels == [0, 1, 2, 3]
    # anchors halved with the input: the teacher's of the same size, on its twice finer grid
    student, teacher = (m.rpn_head.prior_generator for m in (model, model.teacher))
    assert all(torch.equal(2 * s, t) for s, t in zip(student.base_anchors, teacher.base_anchors))
    assert model.rpn_level_map == {lvl: (lvl, 2) for lvl in range(5)} and model.distill_rpn
    assert 'rpn_head' not in model.inherit_teacher
    with torch.no_grad():
        feats = model.teacher.extract_feat(torch.zeros(1, 3, 128, 128))
    assert len(feats) == 5


def test_paper_config_changes_only_mmkds_three_changes_back():
    """The paper's method is the main config with the bound, the adapter and no
    inheriting; the block it matches is kd_chen2017_paper."""
    main = load(osp.join(ROOT, 'configs', 'kd_faster_rcnn_r50_r18.py')).model.to_dict()
    cfg = load(osp.join(ROOT, 'configs', 'kd_faster_rcnn_r50_r18_paper.py'))
    paper = cfg.model.to_dict()
    changed = {k for k in set(main) | set(paper) if main.get(k) != paper.get(k)}
    assert changed == {'inherit_teacher', 'adapter', 'loss_rpn_kd_bbox', 'loss_kd_bbox'}
    assert tuple(paper['inherit_teacher']) == ()
    assert paper['adapter'] == dict(type='FeatureAdapter', kernel_size=1)
    assert main['adapter'] == main['inherit_teacher'] == 'auto'
    bound = dict(type='TeacherBoundedRegressionLoss', margin=0.0, loss_weight=0.5)
    assert paper['loss_rpn_kd_bbox'] == paper['loss_kd_bbox'] == bound
    block = Config.fromfile(osp.join(ROOT, 'configs', '_base_', 'kd_chen2017.py'))
    for key, value in block.kd_chen2017_paper.to_dict().items():
        value = tuple(value) if key == 'inherit_teacher' else value
        if isinstance(value, dict):  # '_delete_' replaced the base's 'auto'
            value = {k: v for k, v in value.items() if k != '_delete_'}
        ours = tuple(paper[key]) if key == 'inherit_teacher' else paper[key]
        assert ours == value, key

    model = MODELS.build(cfg.model)
    assert model.adapter is not None and model.inherit_teacher == []
    assert type(model.loss_kd_bbox).__name__ == 'TeacherBoundedRegressionLoss'


def test_main_config_inherits_the_teachers_heads_not_its_backbone():
    cfg = load(osp.join(ROOT, 'configs', 'kd_faster_rcnn_r50_r18.py'))
    model = MODELS.build(cfg.model)
    assert model.adapter is None and model.distill_rpn
    assert model.inherit_teacher == ['rpn_head', 'roi_head']
    assert type(model.loss_kd_bbox).__name__ == 'TeacherL2RegressionLoss'
    torch.manual_seed(0)
    with torch.no_grad():
        for name in ('rpn_head', 'roi_head'):
            for p in model.teacher.get_submodule(name).parameters():
                p.normal_()
    model.init_weights()
    for name in ('rpn_head', 'roi_head'):
        student = model.get_submodule(name).state_dict()
        teacher = model.teacher.get_submodule(name).state_dict()
        assert student.keys() == teacher.keys()
        for key, value in teacher.items():
            torch.testing.assert_close(student[key], value, rtol=0, atol=0, msg=key)
    # the backbone is not inherited (R-18 against R-50)
    assert model.backbone.depth == 18
