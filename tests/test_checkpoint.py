"""mmkd.utils.checkpoint: mmengine-saved checkpoints load and resume with ``weights_only=True``,
pickled code is refused, and bad teacher checkpoints fail with messages that say what to do."""
import functools
import os
import os.path as osp
import shutil
import socket
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.logging import HistoryBuffer
from mmengine.runner import Runner
from mmengine.runner.checkpoint import CheckpointLoader

from mmkd.utils import CheckpointLoadError, UnsafeCheckpointError, load_teacher_checkpoint
from mmkd.utils.checkpoint import load_from_http

CONFIGS = osp.join(osp.dirname(osp.abspath(__file__)), 'configs')


def tiny_cfg(name: str, tiny_coco: dict, work_dir: str, max_iters: int = 2) -> Config:
    """A tiny iteration-based training without validation, flips or random sampling."""
    cfg = Config.fromfile(osp.join(CONFIGS, name))
    cfg.work_dir = work_dir
    cfg.train_dataloader.dataset.data_root = tiny_coco['data_root']
    cfg.train_dataloader.dataset.pipeline = [
        p for p in cfg.train_dataloader.dataset.pipeline if p.type != 'RandomFlip'
    ]
    cfg.model.train_cfg.rpn.sampler.num = 4096
    cfg.model.train_cfg.rcnn.sampler.num = 512
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False, interval=1)
    cfg.log_processor = dict(by_epoch=False)
    cfg.randomness = dict(seed=0, deterministic=True)
    return cfg


@pytest.fixture(scope='module')
def trained(tiny_coco, tmp_path_factory) -> str:
    """Work dir of a real 2-iteration mmengine training: iter_1.pth, iter_2.pth."""
    work_dir = str(tmp_path_factory.mktemp('trained'))
    Runner.from_cfg(tiny_cfg('tiny_faster_rcnn.py', tiny_coco, work_dir)).train()
    return work_dir


@pytest.fixture
def evil_marker(tmp_path):
    return str(tmp_path / 'payload_ran')


class Payload:
    """Unpickling this object runs a shell command."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}', )


class HistoryBufferGadget:
    """Unpickles to ``getattr(HistoryBuffer, '__init__')``: getattr beyond the statistics."""

    def __reduce__(self):
        return getattr, (HistoryBuffer, '__init__')


def test_mmengine_checkpoint_loads_with_weights_only(trained):
    checkpoint = torch.load(osp.join(trained, 'iter_2.pth'), weights_only=True)
    assert checkpoint['meta']['iter'] == 2
    loss = checkpoint['message_hub']['log_scalars']['train/loss']
    assert isinstance(loss, HistoryBuffer) and len(loss.data[0]) == 2
    assert loss.mean() == pytest.approx(loss.data[0].mean())
    assert {'optimizer', 'param_schedulers'} <= checkpoint.keys()


def test_resume_continues_to_the_same_weights(trained, tiny_coco, tmp_path):
    cfg = tiny_cfg('tiny_faster_rcnn.py', tiny_coco, str(tmp_path))
    cfg.resume, cfg.load_from = True, osp.join(trained, 'iter_1.pth')
    Runner.from_cfg(cfg).train()
    assert sorted(f for f in os.listdir(tmp_path) if f.endswith('.pth')) == ['iter_2.pth']
    resumed = torch.load(str(tmp_path / 'iter_2.pth'))['state_dict']
    whole = torch.load(osp.join(trained, 'iter_2.pth'))['state_dict']
    assert all(torch.equal(resumed[k], whole[k]) for k in whole)


@pytest.mark.parametrize('payload', ['os.system', 'getattr'])
def test_pickled_code_is_refused_and_never_runs(payload, evil_marker, tmp_path):
    path = str(tmp_path / 'evil.pth')
    obj = Payload(evil_marker) if payload == 'os.system' else HistoryBufferGadget()
    torch.save({'state_dict': {'w': torch.zeros(1)}, 'meta': {'x': obj}}, path)
    refused = 'posix.system' if payload == 'os.system' else 'getattr'
    with pytest.raises(UnsafeCheckpointError, match=f"'{path}'.*{refused}"):
        CheckpointLoader.load_checkpoint(path)  # what resume and load_from use
    with pytest.raises(UnsafeCheckpointError, match='not in mmkd\'s allowlist'):
        load_teacher_checkpoint(torch.nn.Linear(1, 1), path)
    assert not osp.exists(evil_marker)


@pytest.fixture
def http_dir(tmp_path, monkeypatch):
    """A local HTTP server over a folder, and torch.hub's cache in tmp_path."""
    served = tmp_path / 'served'
    served.mkdir()

    class Quiet(SimpleHTTPRequestHandler):

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(('127.0.0.1', 0),
                                 functools.partial(Quiet, directory=str(served)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hub_dir = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / 'hub'))
    yield served, f'http://127.0.0.1:{server.server_address[1]}'
    torch.hub.set_dir(hub_dir)
    server.shutdown()


def test_url_checkpoints_load_with_weights_only(http_dir, trained, evil_marker):
    served, url = http_dir
    shutil.copy(osp.join(trained, 'iter_2.pth'), served / 'good.pth')
    torch.save({'meta': Payload(evil_marker)}, served / 'evil.pth')
    assert load_from_http(f'{url}/good.pth')['meta']['iter'] == 2
    # mmengine's own loader would unpickle this with weights_only=False and run it.
    with pytest.raises(UnsafeCheckpointError, match='evil.pth.*posix.system'):
        CheckpointLoader.load_checkpoint(f'{url}/evil.pth')
    assert not osp.exists(evil_marker)


@pytest.mark.parametrize('prefix', [
    '', 'http://', 'https://', 'torchvision://', 'modelzoo://', 'open-mmlab://',
    'openmmlab://', 'mmcls://'
])
def test_mmengine_schemes_load_through_mmkd(prefix):
    loader = CheckpointLoader._get_checkpoint_loader(prefix + 'resnet50')
    assert loader.__module__ == 'mmkd.utils.checkpoint'


@pytest.mark.parametrize('damage', ['truncated', 'empty', 'html'])
def test_corrupt_checkpoint_is_named(damage, trained, tmp_path):
    data = open(osp.join(trained, 'iter_2.pth'), 'rb').read()
    damaged = {'truncated': data[:len(data) // 2], 'empty': b'', 'html': b'<html>404</html>'}
    path = str(tmp_path / f'{damage}.pth')
    with open(path, 'wb') as f:
        f.write(damaged[damage])
    with pytest.raises(CheckpointLoadError, match=f"'{path}' is truncated or corrupt"):
        CheckpointLoader.load_checkpoint(path)
    with pytest.raises(CheckpointLoadError, match=f"'{path}' is truncated or corrupt"):
        load_teacher_checkpoint(torch.nn.Linear(1, 1), path)


def test_missing_teacher_checkpoint_says_how_to_pass_one(tmp_path):
    path = str(tmp_path / 'nowhere.pth')
    with pytest.raises(FileNotFoundError,
                       match=f"teacher_ckpt '{path}' not found: pass a local file with "
                       '--cfg-options model.teacher_ckpt=/path/to.pth'):
        load_teacher_checkpoint(torch.nn.Linear(1, 1), path)


def test_unreachable_url_says_how_to_pass_a_local_file():
    with socket.socket() as s:  # a port that nothing listens on
        s.bind(('127.0.0.1', 0))
        url = f'http://127.0.0.1:{s.getsockname()[1]}/teacher.pth'
    with pytest.raises(CheckpointLoadError,
                       match=f'cannot download {url} .*: pass a local file with '
                       '--cfg-options model.teacher_ckpt=/path/to.pth'):
        load_teacher_checkpoint(torch.nn.Linear(1, 1), url)


@pytest.fixture(scope='module')
def models():
    build = lambda name: MODELS.build(Config.fromfile(osp.join(CONFIGS, name)).model)  # noqa
    return build('tiny_faster_rcnn.py'), build('tiny_teacher_faster_rcnn.py')


def test_checkpoint_of_another_width_lists_shape_mismatches(models, trained):
    _, teacher = models  # FPN 48 channels; the checkpoint is a 32-channel student
    with pytest.raises(CheckpointLoadError) as err:
        load_teacher_checkpoint(teacher, osp.join(trained, 'iter_2.pth'))
    message = str(err.value)
    assert 'does not fit teacher_config' in message
    assert 'neck.lateral_convs.0.conv.weight (32, 64, 1, 1) in checkpoint, ' \
           '(48, 64, 1, 1) in model' in message
    assert 'missing keys' not in message and 'unexpected keys' not in message


def test_checkpoint_of_another_architecture_lists_keys(models, tmp_path):
    student, _ = models
    state_dict = {k: v for k, v in student.state_dict().items() if not k.startswith('roi_head')}
    state_dict.update({f'bbox_head.conv{i}.weight': torch.zeros(1) for i in range(12)})
    path = str(tmp_path / 'other.pth')
    torch.save(state_dict, path)
    with pytest.raises(CheckpointLoadError) as err:
        load_teacher_checkpoint(student, path)
    message = str(err.value)
    n_roi = sum(k.startswith('roi_head') for k in student.state_dict())
    assert f'missing keys ({n_roi}): roi_head.' in message
    assert 'unexpected keys (12): bbox_head.conv0.weight' in message
    assert message.endswith('bbox_head.conv9.weight ... and 2 more')


def test_teacher_checkpoint_loads_strictly(models, trained, tmp_path):
    student, _ = models
    checkpoint = torch.load(osp.join(trained, 'iter_2.pth'))
    load_teacher_checkpoint(student, osp.join(trained, 'iter_2.pth'))
    for k, v in student.state_dict().items():
        assert torch.equal(v, checkpoint['state_dict'][k]), k
    # A bare, DDP-prefixed state dict from before BatchNorm counted batches also fits.
    bare = {
        f'module.{k}': v.zero_()
        for k, v in checkpoint['state_dict'].items() if not k.endswith('num_batches_tracked')
    }
    torch.save(bare, str(tmp_path / 'bare.pth'))
    load_teacher_checkpoint(student, str(tmp_path / 'bare.pth'))
    assert all(not p.any() for p in student.parameters())
