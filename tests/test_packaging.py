"""mmkd's configs travel with the package: a user's config outside the repository inherits the
distillation block by name, from a checkout and from a non-editable install (a built wheel)."""
import importlib.util
import os
import os.path as osp
import shutil
import subprocess
import sys

import pytest
import torch
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules
from mmengine.config import Config

import mmkd

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
BLOCK = osp.join(REPO, 'configs', '_base_', 'kd_chen2017.py')
MISSING_BUILD_TOOLS = [m for m in ('pip', 'setuptools', 'wheel') if not importlib.util.find_spec(m)]

# What a user writes: their student (here a tiny Faster R-CNN inheriting mmdet's), mmkd's block
# by name, their teacher. mmengine evaluates the _base_ line before anything else.
USER_CONFIG = """_base_ = [{student!r}, __import__('mmkd').config_path('_base_/kd_chen2017.py')]
model = dict(**_base_.kd_chen2017, teacher_config={teacher!r}, teacher_ckpt={ckpt!r})
"""
# Test-only lines: two iterations, then a validation.
TWO_ITERATIONS = """
train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=2, val_interval=2)
param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=2)]
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=2))
log_processor = dict(by_epoch=False)
custom_imports = dict(imports=['mmkd', 'where_is_mmkd'], allow_failed_imports=False)
"""
WHERE_IS_MMKD = "import mmkd\nprint('mmkd imported from', mmkd.__file__, flush=True)\n"
# As in a user's own tools/train.py (mmdet's): nothing imports mmkd before the config is read.
PARSE_ONLY = """import sys
from mmengine.config import Config
assert 'mmkd' not in sys.modules
cfg = Config.fromfile('kd.py')
print(cfg.model.type, sys.modules['mmkd'].__file__)
"""


def write_student(folder: str, data_root: str) -> str:
    """The user's own student config: the tests' tiny Faster R-CNN, on the tiny data set."""
    with open(osp.join(REPO, 'tests', 'configs', 'tiny_faster_rcnn.py')) as f:
        text = f.read().replace("'data/tiny/", "'" + data_root)
    path = osp.join(folder, 'student.py')
    with open(path, 'w') as f:
        f.write(text)
    return path


def write_teacher_ckpt(config: str, path: str) -> str:
    """A random teacher of the student's architecture, saved as mmengine saves weights."""
    register_all_modules()
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(config).model)
    model.init_weights()
    torch.save({'meta': {}, 'state_dict': model.state_dict()}, path)
    return path


def copy_source(dst: str) -> str:
    """The files a build reads, so that it writes build/ and *.egg-info outside the clone."""
    os.makedirs(dst)
    for name in ('pyproject.toml', 'README.md', 'LICENSE'):
        if osp.exists(osp.join(REPO, name)):
            shutil.copy(osp.join(REPO, name), dst)
    ignore = shutil.ignore_patterns('__pycache__', '*.pyc')
    for name in ('mmkd', 'configs'):  # mmkd/.mim/configs links to ../../configs
        shutil.copytree(osp.join(REPO, name), osp.join(dst, name), symlinks=True, ignore=ignore)
    return dst


def test_config_path_names_the_repositorys_configs():
    assert osp.samefile(mmkd.config_path('_base_/kd_chen2017.py'), BLOCK)
    main = osp.join(REPO, 'configs', 'kd_faster_rcnn_r50_r18.py')
    assert osp.samefile(mmkd.config_path('kd_faster_rcnn_r50_r18.py'), main)
    with pytest.raises(FileNotFoundError, match=r"mmkd ships no config 'kd_chen2017.py'"):
        mmkd.config_path('kd_chen2017.py')
    with pytest.raises(FileNotFoundError, match='mmkd ships no config'):
        mmkd.config_path(BLOCK)  # a name under configs/, not a path


def test_mmengine_refuses_mmkd_scheme(tmp_path):
    """Why config_path exists: mmengine 0.10 resolves pkg:: only for its own packages."""
    path = tmp_path / 'user.py'
    path.write_text("_base_ = 'mmkd::_base_/kd_chen2017.py'\n")
    with pytest.raises(AssertionError, match='does not support to load mmkd config'):
        Config.fromfile(str(path))


def test_user_config_outside_the_repository_inherits_the_block(tmp_path, tiny_coco, monkeypatch):
    monkeypatch.chdir(tmp_path)
    student = write_student(str(tmp_path), tiny_coco['data_root'])
    (tmp_path / 'kd.py').write_text(
        USER_CONFIG.format(student=student, teacher=student, ckpt='teacher.pth'))
    cfg = Config.fromfile(str(tmp_path / 'kd.py'))
    block = Config.fromfile(BLOCK)
    for key, value in block.kd_chen2017.items():  # the whole block, as the repository has it
        assert cfg.model[key] == value, key
    assert cfg.model.neck.out_channels == 32  # the student is the user's
    assert cfg.model.teacher_config == student and cfg.model.teacher_ckpt == 'teacher.pth'
    assert cfg.custom_hooks == block.custom_hooks
    assert cfg.custom_imports == block.custom_imports


@pytest.mark.skipif(bool(MISSING_BUILD_TOOLS),
                    reason=f'building mmkd needs {", ".join(MISSING_BUILD_TOOLS)}')
def test_non_editable_install_trains_a_users_config(tmp_path, tiny_coco):
    """pip install (no -e) into a folder, then the repository's tools/train.py, run from a
    folder outside the clone, trains a user's config with the installed mmkd's block; the
    config also reads where nothing imports mmkd first (a user's own tools/train.py)."""
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONWARNINGS='ignore')
    target, helpers, user = (str(tmp_path / d) for d in ('site', 'helpers', 'user'))
    for d in (helpers, user):
        os.makedirs(d)
    proc = subprocess.run([
        sys.executable, '-m', 'pip', 'install', '--no-deps', '--no-build-isolation', '--no-index',
        '--no-compile', '--disable-pip-version-check', '-q', '--target', target,
        copy_source(str(tmp_path / 'src'))
    ], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    installed = osp.join(target, 'mmkd', '.mim', 'configs', '_base_', 'kd_chen2017.py')
    assert osp.isfile(installed) and not osp.islink(osp.dirname(osp.dirname(installed)))
    with open(installed) as a, open(BLOCK) as b:
        assert a.read() == b.read()

    with open(osp.join(helpers, 'where_is_mmkd.py'), 'w') as f:
        f.write(WHERE_IS_MMKD)
    student = write_student(user, tiny_coco['data_root'])
    ckpt = write_teacher_ckpt(student, osp.join(user, 'teacher.pth'))
    with open(osp.join(user, 'kd.py'), 'w') as f:
        f.write(USER_CONFIG.format(student=student, teacher=student, ckpt=ckpt) + TWO_ITERATIONS)
    env['PYTHONPATH'] = os.pathsep.join([target, helpers])  # before the clone's editable mmkd
    proc = subprocess.run([
        sys.executable, osp.join(REPO, 'tools', 'train.py'), 'kd.py', '--work-dir', 'work',
        '--cfg-options', 'custom_hooks.0.threshold=0'  # the block's teacher check; ours is random
    ], cwd=user, env=env, capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    assert f"mmkd imported from {osp.join(target, 'mmkd', '__init__.py')}" in out
    assert 'teacher/coco/bbox_mAP' in out  # the block's hooks came along: the teacher check
    log = ''.join(line for line in out.splitlines(True) if 'Iter(train) [2/2]' in line)
    for key in ('loss_rpn_kd_cls', 'loss_kd_cls', 'loss_kd_bbox', 'loss_hint'):
        assert f'{key}: ' in log, key
    assert 'coco/bbox_mAP' in out
    state_dict = torch.load(osp.join(user, 'work', 'iter_2.pth'), map_location='cpu')['state_dict']
    assert state_dict and not any(k.startswith('teacher') for k in state_dict)

    proc = subprocess.run([sys.executable, '-c', PARSE_ONLY], cwd=user, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split()[-2:] == [
        'KnowledgeDistillationTwoStageDetector', osp.join(target, 'mmkd', '__init__.py')]
