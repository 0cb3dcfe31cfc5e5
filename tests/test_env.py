"""The installed stack fits together: mmkd registers, mmcv ops run, a stock step trains."""
import importlib.metadata
import subprocess
import sys

import torch
from mmdet.registry import MODELS
from mmdet.testing import demo_mm_inputs
from mmdet.utils import register_all_modules
from mmengine.hub import get_config
from mmengine.optim import build_optim_wrapper

import mmkd


def test_mmkd_registers_its_modules_in_mmdet():
    for name in ('KnowledgeDistillationTwoStageDetector', 'KDSoftCrossEntropyLoss',
                 'TeacherBoundedRegressionLoss', 'HintLoss', 'FeatureAdapter'):
        assert MODELS.get(name) is not None, name
    # the version users see is the one pip installed (pyproject.toml)
    assert mmkd.__version__ == importlib.metadata.version('mmkd')


def test_check_env_script_passes():
    out = subprocess.run([sys.executable, 'tools/check_env.py'], capture_output=True,
                         text=True, check=True).stdout
    assert 'mmcv 2.1.0 (ops)' in out


def test_mmcv_ops_compute():
    from mmcv.ops import RoIAlign, nms
    boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.], [20., 20., 30., 30.]])
    _, keep = nms(boxes, torch.tensor([0.9, 0.8, 0.7]), 0.5)
    assert keep.tolist() == [0, 2]
    feat = torch.arange(16.).view(1, 1, 4, 4)
    out = RoIAlign((1, 1), spatial_scale=1.0, sampling_ratio=1, aligned=False)(
        feat, torch.tensor([[0., 0., 0., 2., 2.]]))
    assert torch.allclose(out.view(-1), torch.tensor([5.0]))  # bilinear at (1, 1)


def test_stock_faster_rcnn_r18_trains_one_step_on_cpu():
    register_all_modules()
    cfg = get_config('mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py')
    cfg.model.backbone.update(depth=18, init_cfg=None)
    cfg.model.neck.in_channels = [64, 128, 256, 512]
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    data = demo_mm_inputs(2, [[3, 128, 160]] * 2, num_items=[2, 3])
    before = model.roi_head.bbox_head.fc_cls.weight.detach().clone()
    log_vars = model.train_step(data, optim)
    assert torch.isfinite(log_vars['loss'])
    assert not torch.equal(before, model.roi_head.bbox_head.fc_cls.weight)
