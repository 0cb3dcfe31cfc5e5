"""tools/train.py, test.py, dist_train.sh, dist_test.sh on the CPU: DDP over gloo, resume after a
kill, student-only checkpoints, --amp and the command line options."""
import glob
import importlib.util
import os
import os.path as osp
import socket
import subprocess
import sys

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.runner import Runner

from mmkd.utils import setup_cpu_distributed

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = osp.join(REPO, 'tests', 'configs')
TOOLS = osp.join(REPO, 'tools')

# Iteration-based, no validation, and nothing random after the seed (no flip, samplers that
# keep every candidate), so that a resumed run can repeat an uninterrupted one exactly.
ITER_TRAINING = """
train_dataloader = dict(dataset=dict(data_root=data_root, pipeline=[
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(128, 96), keep_ratio=True),
    dict(type='PackDetInputs')]))
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters={max_iters})
val_cfg = None
val_dataloader = None
val_evaluator = None
param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=3)]
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=2))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0, deterministic=True)
"""


def iter_training(max_iters: int = 4, **model) -> str:
    """Config lines for :data:`ITER_TRAINING`, with ``model`` overrides."""
    samplers = dict(rpn=dict(sampler=dict(num=4096)), rcnn=dict(sampler=dict(num=512)))
    model = dict(train_cfg=samplers, **model)
    return f'model = {model!r}\n' + ITER_TRAINING.format(max_iters=max_iters)

HELPER_HOOKS = """
import os
import signal

import torch
from mmdet.registry import HOOKS
from mmengine.hooks import Hook


def _student(runner):
    return getattr(runner.model, 'module', runner.model).state_dict()


@HOOKS.register_module()
class DumpRankWeightsHook(Hook):
    def before_train(self, runner):
        torch.save(_student(runner), os.path.join(runner.work_dir, f'init{runner.rank}.pth'))

    def after_run(self, runner):
        torch.save(_student(runner), os.path.join(runner.work_dir, f'rank{runner.rank}.pth'))


@HOOKS.register_module()
class KillAtIterHook(Hook):
    def __init__(self, at):
        self.at = at

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter == self.at:
            os.kill(os.getpid(), signal.SIGKILL)
"""


def write_config(path: str, base: str, data_root: str, extra: str = '') -> str:
    """Write a config inheriting ``base`` with the tiny data set; return its path."""
    with open(path, 'w') as f:
        f.write(f'_base_ = {base!r}\n'
                f'data_root = {data_root!r}\n'
                'train_dataloader = dict(dataset=dict(data_root=data_root))\n'
                'test_dataloader = dict(dataset=dict(data_root=data_root))\n'
                "test_evaluator = dict(ann_file=data_root + 'ann.json')\n" + extra)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def run(cmd: list, cwd: str, helpers: str, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHON=sys.executable, PORT=str(free_port()),
               PYTHONPATH=helpers, PYTHONWARNINGS='ignore')
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        pytest.fail(f'{" ".join(cmd)} exited {proc.returncode}:\n{proc.stdout[-6000:]}'
                    f'\n{proc.stderr[-3000:]}')
    return proc


def load(path: str) -> dict:
    return torch.load(path, map_location='cpu')  # mmkd's allowlist is active


def assert_same_tensors(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.fixture(scope='module')
def helpers(tmp_path_factory):
    root = tmp_path_factory.mktemp('helpers')
    (root / 'mmkd_test_hooks.py').write_text(HELPER_HOOKS)
    return str(root)


@pytest.fixture(scope='module')
def teacher_ckpt(tiny_coco, tmp_path_factory):
    """A real mmengine-saved checkpoint of the tiny teacher (2 iterations)."""
    work = tmp_path_factory.mktemp('teacher')
    cfg = Config.fromfile(
        write_config(
            str(work / 'teacher.py'), osp.join(CONFIGS, 'tiny_teacher_faster_rcnn.py'),
            tiny_coco['data_root'], iter_training(max_iters=2)))
    cfg.work_dir = str(work)
    Runner.from_cfg(cfg).train()
    return str(work / 'iter_2.pth')


@pytest.fixture(scope='module')
def kd_config(tiny_coco, teacher_ckpt, tmp_path_factory):
    path = str(tmp_path_factory.mktemp('kd_config') / 'kd.py')
    extra = iter_training(teacher_ckpt=teacher_ckpt) + (
        "custom_imports = dict(imports=['mmkd', 'mmkd_test_hooks'])\n")
    return write_config(path, osp.join(CONFIGS, 'tiny_kd_faster_rcnn.py'),
                        tiny_coco['data_root'], extra)


@pytest.fixture(scope='module')
def dist_run(kd_config, tiny_coco, helpers, tmp_path_factory):
    """tools/dist_train.sh with 2 CPU processes, 2 iterations; each rank dumps its weights."""
    work = str(tmp_path_factory.mktemp('dist'))
    config = write_config(osp.join(work, 'dist.py'), kd_config, tiny_coco['data_root'],
                          "custom_hooks = [dict(type='DumpRankWeightsHook'), "
                          "dict(type='TeacherCheckHook', threshold=0)]\n"
                          'val_dataloader = dict(_base_.test_dataloader, _delete_=True)\n'
                          'val_evaluator = dict(_base_.test_evaluator, _delete_=True)\n'
                          "val_cfg = dict(type='ValLoop', _delete_=True)\n")
    run([
        osp.join(TOOLS, 'dist_train.sh'), config, '2', '--work-dir', work, '--cfg-options',
        'train_cfg.max_iters=2'
    ], cwd=work, helpers=helpers)
    return work


def test_teacher_check_runs_under_ddp_on_every_image(dist_run):
    """Each rank tests its share; the evaluator gathers all 6 images; nobody waits forever."""
    logs = glob.glob(osp.join(dist_run, '*', '*.log'))
    text = ''.join(open(path).read() for path in logs)
    assert 'TeacherCheckHook, 50 validation images: teacher/coco/bbox_mAP' in text
    assert 'teacher/num_images: 6.0000' in text


def test_dist_train_two_ranks_end_with_identical_student(dist_run):
    init0, init1 = load(osp.join(dist_run, 'init0.pth')), load(osp.join(dist_run, 'init1.pth'))
    rank0, rank1 = load(osp.join(dist_run, 'rank0.pth')), load(osp.join(dist_run, 'rank1.pth'))
    assert_same_tensors(init0, init1)  # DDP broadcast rank 0's weights
    assert_same_tensors(rank0, rank1)
    changed = [k for k in rank0 if not torch.equal(rank0[k], init0[k])]
    assert any(k.startswith('adapter.') for k in changed)
    assert any(k.startswith('backbone.') for k in changed)
    assert_same_tensors(load(osp.join(dist_run, 'iter_2.pth'))['state_dict'], rank0)


def test_checkpoint_holds_student_and_adapter_only(dist_run):
    state_dict = load(osp.join(dist_run, 'iter_2.pth'))['state_dict']
    student_cfg = Config.fromfile(osp.join(CONFIGS, 'tiny_faster_rcnn.py'))
    student_keys = set(MODELS.build(student_cfg.model).state_dict())
    adapter_keys = {k for k in state_dict if k.startswith('adapter.')}
    assert adapter_keys
    assert set(state_dict) == student_keys | adapter_keys
    assert not any('teacher' in k for k in state_dict)


def test_dist_test_evaluates_on_two_ranks(dist_run, kd_config, helpers, tmp_path):
    out = str(tmp_path / 'results.pkl')
    proc = run([
        osp.join(TOOLS, 'dist_test.sh'), kd_config,
        osp.join(dist_run, 'iter_2.pth'), '2', '--work-dir', str(tmp_path), '--out', out
    ], cwd=str(tmp_path), helpers=helpers)
    assert 'coco/bbox_mAP' in proc.stdout + proc.stderr
    import pickle
    with open(out, 'rb') as f:
        assert len(pickle.load(f)) == 6  # every image once, gathered from both ranks


def test_killed_training_resumes_to_the_same_weights(kd_config, tiny_coco, helpers, tmp_path):
    train = [sys.executable, osp.join(TOOLS, 'train.py'), kd_config, '--work-dir']
    whole, killed = str(tmp_path / 'whole'), str(tmp_path / 'killed')
    run(train + [whole], cwd=str(tmp_path), helpers=helpers)
    kill_config = write_config(str(tmp_path / 'kill.py'), kd_config, tiny_coco['data_root'],
                               "custom_hooks = [dict(type='KillAtIterHook', at=3)]\n")
    train_killed = [sys.executable, osp.join(TOOLS, 'train.py'), kill_config, '--work-dir']
    proc = run(train_killed + [killed], cwd=str(tmp_path), helpers=helpers, check=False)
    assert proc.returncode == -9  # SIGKILL during iteration 4, after iter_2.pth was saved
    with open(osp.join(killed, 'last_checkpoint')) as f:
        assert f.read().strip().endswith('iter_2.pth')
    assert not osp.exists(osp.join(killed, 'iter_4.pth'))
    proc = run(train + [killed, '--resume'], cwd=str(tmp_path), helpers=helpers)
    assert 'resumed' in (proc.stdout + proc.stderr).lower()
    a, b = load(osp.join(whole, 'iter_4.pth')), load(osp.join(killed, 'iter_4.pth'))
    assert_same_tensors(a['state_dict'], b['state_dict'])
    for group_a, group_b in zip(a['optimizer']['param_groups'], b['optimizer']['param_groups']):
        assert group_a['lr'] == group_b['lr']
    for state_a, state_b in zip(a['optimizer']['state'].values(),
                                b['optimizer']['state'].values()):
        assert torch.equal(state_a['momentum_buffer'], state_b['momentum_buffer'])
    assert a['param_schedulers'] == b['param_schedulers']
    assert b['meta']['iter'] == 4


def load_train_tool():
    spec = importlib.util.spec_from_file_location('mmkd_train_tool', osp.join(TOOLS, 'train.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parse(tool, argv: list, monkeypatch):
    monkeypatch.setattr(sys, 'argv', ['train.py'] + argv)
    return tool.build_cfg(tool.parse_args())


def test_train_command_line(monkeypatch, tmp_path):
    tool = load_train_tool()
    config = osp.join(CONFIGS, 'tiny_kd_faster_rcnn.py')
    monkeypatch.chdir(tmp_path)  # configs resolve from any directory
    cfg = parse(tool, [config], monkeypatch)
    assert cfg.work_dir == osp.join('./work_dirs', 'tiny_kd_faster_rcnn')
    assert not cfg.resume and cfg.model.type == 'KnowledgeDistillationTwoStageDetector'
    cfg = parse(tool, [
        config, '--work-dir', 'w', '--auto-scale-lr', '--resume', '--cfg-options',
        'model.teacher_ckpt=t.pth', 'optim_wrapper.optimizer.lr=0.5'
    ], monkeypatch)
    assert (cfg.work_dir, cfg.resume, cfg.load_from) == ('w', True, None)
    assert cfg.auto_scale_lr.enable
    assert cfg.model.teacher_ckpt == 't.pth' and cfg.optim_wrapper.optimizer.lr == 0.5
    cfg = parse(tool, [config, '--resume', 'w/iter_2.pth'], monkeypatch)
    assert (cfg.resume, cfg.load_from) == (True, 'w/iter_2.pth')


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the CPU refusal')
def test_amp_without_gpu_is_refused_clearly(monkeypatch):
    tool = load_train_tool()
    with pytest.raises(SystemExit, match='--amp needs a GPU'):
        parse(tool, [osp.join(CONFIGS, 'tiny_kd_faster_rcnn.py'), '--amp'], monkeypatch)


def test_setup_cpu_distributed_uses_gloo_and_cpu_ddp(monkeypatch):
    monkeypatch.setattr(torch.distributed, 'is_initialized', lambda: True)
    cfg = Config(dict(env_cfg=dict(dist_cfg=dict(backend='nccl', timeout=60))))
    cfg.launcher = 'none'
    setup_cpu_distributed(cfg)
    assert cfg.env_cfg.dist_cfg.backend == 'nccl' and 'model_wrapper_cfg' not in cfg
    cfg.launcher = 'pytorch'
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    setup_cpu_distributed(cfg)
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'
    assert cfg.model_wrapper_cfg == dict(
        type='MMDistributedDataParallel', broadcast_buffers=False,
        find_unused_parameters=False, device_ids=None)
