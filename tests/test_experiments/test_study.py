"""The study runner: a run is reused while nothing it depends on changed, and only then.

Runs are executed by a fake that records them (training is tested end to end in test_demo
and the benchmark tests); everything else, keys included, is the real thing."""
import os
import os.path as osp
import shutil
import subprocess

import pytest

from mmkd.experiments import study
from mmkd.experiments.records import read_json, write_json
from mmkd.experiments.study import Run, run_study

CONFIG = '''
model = dict(type={type!r}, backbone=dict(depth={depth}))
train_cfg = dict(type='IterBasedTrainLoop', max_iters=2)
train_dataloader = dict(dataset=dict(data_root={root!r}, ann_file='ann.json',
                                     data_prefix=dict(img='imgs/')))
'''


@pytest.fixture
def setup(tmp_path, monkeypatch):
    """Configs of a teacher, a student alone and a distilled student (an mmkd class); a
    copy of mmkd's source to edit; a fake execution that records what ran."""
    data = tmp_path / 'data'
    (data / 'imgs').mkdir(parents=True)
    (data / 'ann.json').write_text('{"images": []}')
    (data / 'imgs' / 'a.png').write_bytes(b'x')
    configs = {}
    for name, type_, depth in (('teacher', 'FasterRCNN', 50), ('student', 'FasterRCNN', 18),
                               ('kd', 'KnowledgeDistillationTwoStageDetector', 18)):
        configs[name] = tmp_path / f'{name}.py'
        configs[name].write_text(CONFIG.format(type=type_, depth=depth, root=f'{data}/'))
    code = tmp_path / 'mmkd'
    shutil.copytree(study.MMKD_DIR, code, ignore=shutil.ignore_patterns('__pycache__'))
    monkeypatch.setattr(study, 'MMKD_DIR', str(code))
    ran, threads = [], {}

    def fake_execute(folder, env, timeout):
        job = read_json(osp.join(folder, 'job.json'))
        ran.append(job['label'])
        threads[job['label']] = env['OMP_NUM_THREADS']
        write_json(osp.join(folder, 'result.json'),
                   dict(key=job['key'], mAP=1.0, checkpoint=osp.join(folder, 'last.pth')))
        return 0

    monkeypatch.setattr(study, 'execute', fake_execute)
    runs = [Run('teacher', str(configs['teacher'])), Run('student', str(configs['student'])),
            Run('kd', str(configs['kd']), teacher='teacher/seed0')]
    return dict(runs=runs, configs=configs, data=data, code=code, ran=ran, threads=threads,
                work_dir=str(tmp_path / 'work'))


def again(setup, **kwargs) -> list:
    setup['ran'].clear()
    results = run_study(setup['runs'], setup['work_dir'], log=lambda msg: None, **kwargs)
    assert all(r['status'] == 'done' for r in results.values())
    return sorted(setup['ran'])


def test_a_rerun_reuses_everything(setup):
    assert again(setup) == ['kd/seed0', 'student/seed0', 'teacher/seed0']
    assert again(setup) == []


def test_teachers_run_first_with_every_core_then_the_rest_share_them(setup, monkeypatch):
    monkeypatch.delenv('OMP_NUM_THREADS', raising=False)
    monkeypatch.setattr(os, 'cpu_count', lambda: 4)
    run_study(setup['runs'], setup['work_dir'], parallel=2, log=lambda msg: None)
    assert setup['ran'][0] == 'teacher/seed0'
    assert setup['threads'] == {'teacher/seed0': '4', 'student/seed0': '2', 'kd/seed0': '2'}


def test_the_teacher_checkpoint_reaches_its_students(setup):
    again(setup)
    config = open(osp.join(setup['work_dir'], 'kd', 'seed0', 'config.py')).read()
    assert osp.join(setup['work_dir'], 'teacher', 'seed0', 'last.pth') in config


def test_a_config_edit_reruns_that_run_and_what_depends_on_it(setup):
    again(setup)
    with open(setup['configs']['student'], 'a') as f:
        f.write('optim_wrapper = dict(lr=1)\n')
    assert again(setup) == ['student/seed0']
    with open(setup['configs']['teacher'], 'a') as f:
        f.write('optim_wrapper = dict(lr=1)\n')
    assert again(setup) == ['kd/seed0', 'teacher/seed0']  # a new teacher, a new student


def test_an_mmkd_code_edit_reruns_only_runs_that_use_mmkd(setup):
    again(setup)
    with open(setup['code'] / 'losses' / 'hint_loss.py', 'a') as f:
        f.write('# changed\n')
    assert again(setup) == ['kd/seed0']
    with open(setup['code'] / 'experiments' / 'study.py', 'a') as f:  # the runner itself
        f.write('# changed\n')
    assert again(setup) == []


def test_a_data_edit_reruns_everything_and_options_and_seeds_are_their_own_runs(setup):
    again(setup)
    (setup['data'] / 'imgs' / 'b.png').write_bytes(b'y')
    assert len(again(setup)) == 3
    setup['runs'].append(Run('kd', str(setup['configs']['kd']), seed=1, teacher='teacher/seed0'))
    setup['runs'].append(Run('kd_nohint', str(setup['configs']['kd']), teacher='teacher/seed0',
                             options={'model.loss_hint': None}))
    assert again(setup) == ['kd/seed1', 'kd_nohint/seed0']


def test_an_unfinished_run_resumes_and_an_outdated_one_starts_clean(setup, monkeypatch):
    again(setup)
    folder = osp.join(setup['work_dir'], 'student', 'seed0')
    os.remove(osp.join(folder, 'result.json'))  # stopped before its end ...
    open(osp.join(folder, 'iter_1.pth'), 'w').close()  # ... after a checkpoint
    assert again(setup) == ['student/seed0']
    assert osp.exists(osp.join(folder, 'iter_1.pth'))  # kept to resume from
    with open(setup['configs']['student'], 'a') as f:
        f.write('optim_wrapper = dict(lr=1)\n')
    assert again(setup) == ['student/seed0']
    assert not osp.exists(osp.join(folder, 'iter_1.pth'))  # another config: from scratch


def test_time_limit_and_failures_are_reported_per_run(setup, monkeypatch):
    def timeout(folder, env, timeout):
        raise subprocess.TimeoutExpired('train', timeout)

    monkeypatch.setattr(study, 'execute', timeout)
    results = run_study(setup['runs'], setup['work_dir'], time_limit=60, log=lambda m: None)
    assert {r['status'] for r in results.values()} == {'stopped', 'failed'}
    assert results['kd/seed0']['status'] == 'failed'  # its teacher did not finish
    assert 'teacher teacher/seed0 did not finish' in results['kd/seed0']['error']
    monkeypatch.setattr(study, 'execute', lambda folder, env, timeout: 1)
    results = run_study(setup['runs'], setup['work_dir'], log=lambda m: None)
    assert results['student/seed0']['status'] == 'failed'
    assert results['student/seed0']['error'].startswith('exit 1, see ')


def test_a_student_listed_before_its_teacher_is_refused(setup):
    with pytest.raises(ValueError, match="its teacher 'teacher/seed0' is not a run listed "
                       'before it'):
        run_study(setup['runs'][::-1], setup['work_dir'], log=lambda m: None)
