"""tools/export_student.py: the exported student loads strictly into the plain student config in
stock mmdet (no mmkd, default ``weights_only=True``) and predicts exactly as the distilled model."""
import importlib.util
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.runner import Runner, load_checkpoint

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = osp.join(REPO, 'tests', 'configs')

# Runs in a fresh interpreter that never imports mmkd.
STOCK_MMDET_PREDICT = """
import sys
import torch
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules
from mmengine.config import Config
from mmengine.runner import Runner, load_checkpoint

config, checkpoint, data_root, out = sys.argv[1:]
register_all_modules()
cfg = Config.fromfile(config)
cfg.test_dataloader.dataset.data_root = data_root
model = MODELS.build(cfg.model).eval()
load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
with torch.no_grad():
    torch.save([r.pred_instances.to_dict()
                for batch in Runner.build_dataloader(cfg.test_dataloader)
                for r in model.test_step(batch)], out)
assert 'mmkd' not in sys.modules
"""


def predict(model, cfg: Config) -> list:
    """Predictions on the test set, single-threaded like the stock mmdet subprocess."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # float sums depend on the thread count
    try:
        with torch.no_grad():
            return [
                r.pred_instances.to_dict()
                for batch in Runner.build_dataloader(cfg.test_dataloader)
                for r in model.test_step(batch)
            ]
    finally:
        torch.set_num_threads(threads)


def run(cmd: list, cwd: str) -> str:
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONWARNINGS='ignore')
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


@pytest.fixture(scope='module')
def kd_cfg(tiny_coco) -> Config:
    cfg = Config.fromfile(osp.join(CONFIGS, 'tiny_kd_faster_rcnn.py'))
    for loader in (cfg.train_dataloader, cfg.test_dataloader):
        loader.dataset.data_root = tiny_coco['data_root']
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=2)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False, interval=2)
    cfg.log_processor = dict(by_epoch=False)
    return cfg


@pytest.fixture(scope='module')
def exported(kd_cfg, tmp_path_factory):
    """A distilled checkpoint from 2 training iterations, and its export."""
    work_dir = str(tmp_path_factory.mktemp('kd'))
    kd_cfg.work_dir = work_dir
    Runner.from_cfg(kd_cfg).train()
    kd_ckpt, out = osp.join(work_dir, 'iter_2.pth'), osp.join(work_dir, 'student', 'r18.pth')
    stdout = run([sys.executable, osp.join(REPO, 'tools', 'export_student.py'), kd_ckpt, out],
                 cwd=work_dir)
    assert 'dropped modules: adapter; not copied: message_hub, optimizer, param_schedulers' \
        in stdout
    return kd_ckpt, out


def test_exported_checkpoint_holds_the_student_only(exported):
    kd_ckpt, out = exported
    distilled, student = torch.load(kd_ckpt), torch.load(out)
    assert set(student) == {'meta', 'state_dict'}
    expected = {k: v for k, v in distilled['state_dict'].items() if not k.startswith('adapter.')}
    assert student['state_dict'].keys() == expected.keys()
    assert all(torch.equal(student['state_dict'][k], v) for k, v in expected.items())
    assert student['meta']['dataset_meta'] == distilled['meta']['dataset_meta']
    assert student['meta']['exported_from'] == 'iter_2.pth'
    plain = MODELS.build(Config.fromfile(osp.join(CONFIGS, 'tiny_faster_rcnn.py')).model)
    assert student['state_dict'].keys() == plain.state_dict().keys()


def test_stock_mmdet_predicts_as_the_distilled_model(exported, kd_cfg, tiny_coco, tmp_path):
    kd_ckpt, out = exported
    distilled = MODELS.build(kd_cfg.model).eval()
    load_checkpoint(distilled, kd_ckpt, map_location='cpu', strict=True)
    expected = predict(distilled, kd_cfg)
    script, results = str(tmp_path / 'stock_predict.py'), str(tmp_path / 'stock.pth')
    with open(script, 'w') as f:
        f.write(STOCK_MMDET_PREDICT)
    run([
        sys.executable, script,
        osp.join(CONFIGS, 'tiny_faster_rcnn.py'), out, tiny_coco['data_root'], results
    ], cwd=str(tmp_path))
    stock = torch.load(results)
    assert len(stock) == len(expected) == 6
    assert sum(len(p['scores']) for p in expected) > 0
    for got, want in zip(stock, expected):
        for key in ('bboxes', 'scores', 'labels'):
            assert torch.equal(got[key], want[key]), key


def test_checkpoint_without_state_dict_is_refused():
    spec = importlib.util.spec_from_file_location('export_student',
                                                  osp.join(REPO, 'tools', 'export_student.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    with pytest.raises(SystemExit, match="'weights.pth' has no 'state_dict'"):
        tool.export_student({'conv.weight': torch.zeros(1)}, 'weights.pth')
