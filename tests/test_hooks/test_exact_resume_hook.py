"""ExactResumeHook: N iterations straight, and N/2 + --resume + N/2, give identical weights and
losses with random flips and random RPN and R-CNN sampling, in epoch- and iteration-based
loops, with and without data loading workers, and under 2-rank DDP; without it they differ."""
import glob
import os
import os.path as osp
import socket
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

from mmkd.hooks import ExactResumeHook
from mmkd.hooks.exact_resume_hook import reseed

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = osp.join(REPO, 'tests', 'configs')
EPOCH, ITER = 'epoch', 'iter'


class Recorder(Hook):
    """Per iteration: the (image, flipped) pairs of the batch and every loss term."""

    def __init__(self) -> None:
        self.iters = {}

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.iters[runner.iter] = dict(
            batch=[(s.img_id, s.flip) for s in data_batch['data_samples']])

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.iters[runner.iter]['losses'] = {
            k: float(torch.as_tensor(v).detach()) for k, v in outputs.items() if 'loss' in k}


def training_cfg(tiny_coco, work_dir, loop: str, workers: int = 0, hook: bool = True,
                 kd: bool = False) -> Config:
    """Tiny Faster R-CNN with RandomFlip and the RPN's and R-CNN's RandomSampler (64 of the
    anchors, 32 of the proposals): 4 iterations, in 2 epochs of 4 images or not; checkpoints
    halfway and at the end, validation right after each. ``kd``: distilled from a random
    teacher, with mmkd's other hooks (the teacher check draws between resume and training)."""
    cfg = Config.fromfile(osp.join(CONFIGS, 'tiny_kd_faster_rcnn.py' if kd else
                                   'tiny_faster_rcnn.py'))
    cfg.work_dir = str(work_dir)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.data_root = tiny_coco['data_root']
    cfg.val_evaluator.ann_file = tiny_coco['data_root'] + tiny_coco['ann_file']
    cfg.train_dataloader.update(num_workers=workers, persistent_workers=workers > 0)
    cfg.param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0,
                                end=3)]
    if loop == EPOCH:
        cfg.train_dataloader.dataset.indices = 4
        cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=2, val_interval=1)
        cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1)
    else:
        cfg.train_dataloader.sampler = dict(type='InfiniteSampler', shuffle=True)
        cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=4, val_interval=2)
        cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=2, by_epoch=False)
        cfg.log_processor = dict(by_epoch=False)
    cfg.randomness = dict(seed=0, deterministic=True)
    cfg.custom_hooks = [dict(type='ExactResumeHook')] if hook else []
    if kd:
        cfg.custom_hooks += [dict(type='TeacherCheckHook', threshold=0, num_images=2),
                             dict(type='StopOnNonFiniteLossHook'),
                             dict(type='TeacherProvenanceHook')]
    return cfg


def train(cfg: Config, resume_from: str = None):
    """Train ``cfg`` (resumed from ``resume_from``); return the records and the weights."""
    if resume_from:
        cfg.resume, cfg.load_from = True, resume_from
    runner = Runner.from_cfg(cfg)
    recorder = Recorder()
    runner.register_hook(recorder)
    runner.train()
    return recorder.iters, runner.model.state_dict()


def straight_and_resumed(tiny_coco, tmp_path, loop: str, workers: int = 0, hook: bool = True,
                         kd: bool = False):
    straight = train(training_cfg(tiny_coco, tmp_path / 'straight', loop, workers, hook, kd))
    halfway = tmp_path / 'straight' / ('epoch_1.pth' if loop == EPOCH else 'iter_2.pth')
    resumed = train(training_cfg(tiny_coco, tmp_path / 'resumed', loop, workers, hook, kd),
                    resume_from=str(halfway))
    return straight, resumed


def differing_weights(a: dict, b: dict) -> list:
    assert a.keys() == b.keys()
    return [k for k in a if not torch.equal(a[k], b[k])]


@pytest.mark.parametrize('loop,workers,kd', [(EPOCH, 0, True), (EPOCH, 2, False),
                                             (ITER, 0, False), (ITER, 2, False)])
def test_resumed_run_repeats_the_straight_one_exactly(tiny_coco, tmp_path, loop, workers, kd):
    """Workers are persistent: in the epoch-based loop they live through both epochs of the
    straight run and start at the second one in the resumed run."""
    (records, weights), (resumed_records, resumed_weights) = straight_and_resumed(
        tiny_coco, tmp_path, loop, workers, kd=kd)
    total, half = 4, 2
    assert sorted(records) == list(range(total))
    assert sorted(resumed_records) == list(range(half, total))
    for i in range(half, total):
        assert resumed_records[i] == records[i], f'iteration {i + 1}'
    assert differing_weights(weights, resumed_weights) == []
    # The draws the test relies on happen: both flips occur, the weights move.
    flips = {flip for i in records for _, flip in records[i]['batch']}
    assert flips == {True, False}
    assert records[total - 1]['losses']['loss'] != records[half]['losses']['loss']


def test_without_the_hook_the_resumed_run_differs(tiny_coco, tmp_path):
    (records, weights), (resumed_records, resumed_weights) = straight_and_resumed(
        tiny_coco, tmp_path, EPOCH, hook=False)
    assert resumed_records[2]['losses'] != records[2]['losses']
    assert differing_weights(weights, resumed_weights) != []


def test_reseed_sets_every_generator_from_the_key():
    import random

    import numpy as np
    reseed(0, 1, 7, 0)
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    reseed(0, 1, 8, 0)
    other = (random.random(), np.random.rand(), torch.rand(1).item())
    reseed(0, 1, 7, 0)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first
    assert all(a != b for a, b in zip(first, other))


def test_checkpoint_records_the_setting_and_a_changed_one_is_named(tiny_coco, tmp_path):
    cfg = training_cfg(tiny_coco, tmp_path / 'straight', ITER)
    cfg.train_cfg.max_iters = 2
    train(cfg)
    halfway = str(tmp_path / 'straight' / 'iter_2.pth')
    assert torch.load(halfway)['meta']['exact_resume'] == dict(seed=0, world_size=1,
                                                               num_workers=0)
    cfg = training_cfg(tiny_coco, tmp_path / 'resumed', ITER, workers=1)
    cfg.randomness.seed = 5
    train(cfg, resume_from=halfway)
    log = ''.join(open(p).read() for p in glob.glob(str(tmp_path / 'resumed' / '*' / '*.log')))
    assert log.count('ExactResumeHook: this run will not repeat the uninterrupted one '
                     'exactly: ') == 1
    assert ("the training data are loaded with seed 5, the checkpoint's run used 0: set "
            'randomness=dict(seed=0) (--cfg-options randomness.seed=0); '
            'num_workers 0 then, 1 now.') in log


def test_an_unknown_loop_is_refused():
    class Loop:
        pass

    class FakeRunner:
        train_loop = Loop()

    with pytest.raises(TypeError, match='knows the batches of EpochBasedTrainLoop and '
                       'IterBasedTrainLoop, got Loop: remove the hook'):
        ExactResumeHook().before_train(FakeRunner())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def dist_train(config: str, work_dir: str, *args: str) -> None:
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHON=sys.executable, PORT=str(free_port()),
               PYTHONWARNINGS='ignore')
    proc = subprocess.run([osp.join(REPO, 'tools', 'dist_train.sh'), config, '2',
                           '--work-dir', work_dir, *args], cwd=work_dir, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]


def test_resume_is_exact_under_ddp(tiny_coco, tmp_path):
    """2 ranks on gloo, 2 epochs of 2 iterations each (3 images per rank): rank 1's draws
    reach rank 0's weights through the averaged gradients."""
    config = str(tmp_path / 'ddp.py')
    data_root = tiny_coco['data_root']
    with open(config, 'w') as f:
        f.write(f"_base_ = {osp.join(CONFIGS, 'tiny_faster_rcnn.py')!r}\n"
                "custom_imports = dict(imports=['mmkd'], allow_failed_imports=False)\n"
                f'data_root = {data_root!r}\n'
                'train_dataloader = dict(dataset=dict(data_root=data_root))\n'
                'val_dataloader = dict(dataset=dict(data_root=data_root))\n'
                'test_dataloader = val_dataloader\n'
                "val_evaluator = dict(ann_file=data_root + 'ann.json')\n"
                'test_evaluator = val_evaluator\n'
                'train_cfg = dict(max_epochs=2, val_interval=1)\n'
                'default_hooks = dict(checkpoint=dict(interval=1))\n'
                'randomness = dict(seed=0, deterministic=True)\n'
                "custom_hooks = [dict(type='ExactResumeHook')]\n")
    straight, resumed = str(tmp_path / 'straight'), str(tmp_path / 'resumed')
    os.makedirs(straight)
    os.makedirs(resumed)
    dist_train(config, straight)
    dist_train(config, resumed, '--resume', osp.join(straight, 'epoch_1.pth'))
    a = torch.load(osp.join(straight, 'epoch_2.pth'))
    b = torch.load(osp.join(resumed, 'epoch_2.pth'))
    assert a['meta']['iter'] == b['meta']['iter'] == 4
    assert a['meta']['exact_resume'] == dict(seed=0, world_size=2, num_workers=0)
    assert differing_weights(a['state_dict'], b['state_dict']) == []
    for key in ('train/loss', 'train/loss_rpn_cls', 'train/loss_cls', 'train/loss_bbox'):
        history_a, _ = a['message_hub']['log_scalars'][key].data
        history_b, _ = b['message_hub']['log_scalars'][key].data
        assert len(history_a) == 4 and history_a.tolist() == history_b.tolist(), key
    first_half = torch.load(osp.join(straight, 'epoch_1.pth'))['state_dict']
    assert differing_weights(first_half, a['state_dict']) != []
