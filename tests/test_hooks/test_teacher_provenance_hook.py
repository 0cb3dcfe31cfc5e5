"""TeacherProvenanceHook: every checkpoint names its teacher's config and the SHA-256 of its
checkpoint, hashed once per run; the exported student keeps it and tools/test.py prints it; a
resume with a replaced teacher stops naming both (or warns, on request)."""
import glob
import hashlib
import importlib.util
import os.path as osp
import sys

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.runner import Runner

import mmkd.hooks.teacher_provenance_hook as provenance
from mmkd.hooks import TeacherProvenanceHook
from mmkd.hooks.teacher_provenance_hook import describe_teacher, teacher_provenance

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = osp.join(REPO, 'tests', 'configs')
TEACHER_CONFIG = osp.join(CONFIGS, 'tiny_teacher_faster_rcnn.py')


def sha256(path: str) -> str:
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def write_teacher(path: str, shift: float = 0.0) -> str:
    """A checkpoint of the tiny teacher (random weights, plus ``shift``)."""
    torch.manual_seed(0)
    state_dict = MODELS.build(Config.fromfile(TEACHER_CONFIG).model).state_dict()
    torch.save({'state_dict': {k: v + shift if v.is_floating_point() else v
                               for k, v in state_dict.items()}}, path)
    return path


def kd_cfg(tiny_coco, work_dir, teacher_ckpt: str, max_iters: int = 2, **hook) -> Config:
    cfg = Config.fromfile(osp.join(CONFIGS, 'tiny_kd_faster_rcnn.py'))
    cfg.work_dir = str(work_dir)
    cfg.train_dataloader.dataset.data_root = tiny_coco['data_root']
    cfg.model.teacher_ckpt = teacher_ckpt
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False, interval=1)
    cfg.log_processor = dict(by_epoch=False)
    cfg.custom_hooks = [dict(type='StopOnNonFiniteLossHook'),
                        dict(type='TeacherProvenanceHook', **hook)]
    return cfg


def resume(cfg: Config, checkpoint: str) -> Runner:
    cfg.resume, cfg.load_from = True, checkpoint
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


def log_of(work_dir) -> str:
    return ''.join(open(p).read() for p in glob.glob(osp.join(str(work_dir), '*', '*.log')))


@pytest.fixture(scope='module')
def distilled(tiny_coco, tmp_path_factory):
    """2 iterations distilled from a teacher file; the number of times it was hashed."""
    root = tmp_path_factory.mktemp('provenance')
    teacher = write_teacher(str(root / 'teacher.pth'))
    hashes = []
    sha256_of = provenance.sha256_of
    provenance.sha256_of = lambda path: hashes.append(path) or sha256_of(path)
    try:
        Runner.from_cfg(kd_cfg(tiny_coco, root / 'run', teacher)).train()
    finally:
        provenance.sha256_of = sha256_of
    return dict(teacher=teacher, run=root / 'run', hashes=hashes)


def test_every_checkpoint_records_the_teacher_hashed_once(distilled):
    expected = dict(config=TEACHER_CONFIG, checkpoint=distilled['teacher'],
                    sha256=sha256(distilled['teacher']))
    for name in ('iter_1.pth', 'iter_2.pth'):
        assert torch.load(str(distilled['run'] / name))['meta']['teacher'] == expected
    assert distilled['hashes'] == [distilled['teacher']]


def test_resume_with_the_same_teacher_goes_on(distilled, tiny_coco, tmp_path):
    resume(kd_cfg(tiny_coco, tmp_path, distilled['teacher'], max_iters=3),
           str(distilled['run'] / 'iter_2.pth'))
    meta = torch.load(str(tmp_path / 'iter_3.pth'))['meta']
    assert meta['teacher']['sha256'] == sha256(distilled['teacher'])
    assert 'TeacherProvenanceHook: resuming with' not in log_of(tmp_path)


def test_resume_with_a_replaced_teacher_stops_naming_both(distilled, tiny_coco, tmp_path):
    replaced = write_teacher(str(tmp_path / 'teacher.pth'), shift=1e-3)
    cfg = kd_cfg(tiny_coco, tmp_path / 'run', replaced)
    with pytest.raises(RuntimeError) as err:
        resume(cfg, str(distilled['run'] / 'iter_1.pth'))
    assert str(err.value) == (
        f'TeacherProvenanceHook: resuming with teacher_ckpt {replaced} (SHA-256 '
        f"{sha256(replaced)}), but the checkpoint was trained with teacher_ckpt "
        f"{distilled['teacher']} (SHA-256 {sha256(distilled['teacher'])}): a different "
        'teacher would teach the rest of the run. Resume with the teacher the run started '
        "with; to go on with this one, set the hook's on_change='warn' (--cfg-options "
        'custom_hooks.1.on_change=warn).')
    assert not glob.glob(str(tmp_path / 'run' / '*.pth'))


def test_on_change_warn_goes_on_and_records_the_new_teacher(distilled, tiny_coco, tmp_path):
    replaced = write_teacher(str(tmp_path / 'teacher.pth'), shift=1e-3)
    resume(kd_cfg(tiny_coco, tmp_path / 'run', replaced, on_change='warn'),
           str(distilled['run'] / 'iter_1.pth'))
    assert "would teach the rest of the run. Going on (on_change='warn')." in log_of(
        tmp_path / 'run')
    meta = torch.load(str(tmp_path / 'run' / 'iter_2.pth'))['meta']
    assert meta['teacher']['sha256'] == sha256(replaced)


def load_tool(name: str):
    spec = importlib.util.spec_from_file_location(f'mmkd_{name}', osp.join(REPO, 'tools',
                                                                            f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_exported_student_keeps_the_teacher_and_tools_test_prints_it(
        distilled, tiny_coco, tmp_path, monkeypatch, capsys):
    exported = str(tmp_path / 'student.pth')
    monkeypatch.setattr(sys, 'argv', ['export_student.py', str(distilled['run'] /
                                                                'iter_2.pth'), exported])
    load_tool('export_student').main()
    line = describe_teacher(torch.load(str(distilled['run'] / 'iter_2.pth'))['meta'])
    assert f'taught by: {line}\n' in capsys.readouterr().out
    assert line == (f"teacher_config {TEACHER_CONFIG}, teacher_ckpt {distilled['teacher']}, "
                    f"SHA-256 {sha256(distilled['teacher'])}")
    assert torch.load(exported)['meta']['teacher']['sha256'] == sha256(distilled['teacher'])
    data_root = tiny_coco['data_root']
    monkeypatch.setattr(sys, 'argv', [
        'test.py', osp.join(CONFIGS, 'tiny_faster_rcnn.py'), exported, '--work-dir',
        str(tmp_path / 'test'), '--cfg-options', f'test_dataloader.dataset.data_root={data_root}',
        f'test_evaluator.ann_file={data_root}ann.json'])
    load_tool('test').main()
    assert f'TeacherProvenanceHook: the loaded checkpoint was taught by: {line}' in log_of(
        tmp_path / 'test')


def test_a_url_is_hashed_from_its_downloaded_copy_or_recorded_with_a_note(tmp_path):
    torch_hub = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path))
    try:
        url = 'https://example.org/models/teacher_20200130-047c8118.pth'
        assert teacher_provenance('mmdet::x.py', url) == dict(
            config='mmdet::x.py', checkpoint=url, sha256=None,
            note=f'no local copy of {url} to hash')
        cached = tmp_path / 'checkpoints' / 'teacher_20200130-047c8118.pth'
        cached.parent.mkdir()
        cached.write_bytes(b'teacher weights')
        assert teacher_provenance('mmdet::x.py', url)['sha256'] == hashlib.sha256(
            b'teacher weights').hexdigest()
    finally:
        torch.hub.set_dir(torch_hub)


def test_without_checkpoint_or_record_it_says_so():
    assert teacher_provenance(dict(type='FasterRCNN'), None) == dict(
        config='(inline dict)', checkpoint=None, sha256=None,
        note='no teacher_ckpt, the teacher was randomly initialised')
    assert describe_teacher({'epoch': 1}) == (
        'no teacher recorded (a plain detector, or a checkpoint saved without '
        'TeacherProvenanceHook)')
    with pytest.raises(ValueError, match="on_change must be 'error' or 'warn', got 'stop'"):
        TeacherProvenanceHook(on_change='stop')
