"""BCCD accuracy benchmark: configs, bookkeeping, scheduling, the --quick pipeline end to end."""
import glob
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import time

import pytest
from conftest import write_tiny_coco
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules
from mmengine.config import Config

import mmkd  # noqa: F401

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'benchmarks'))
import bccd_accuracy as bench  # noqa: E402
import plot_results  # noqa: E402

CONFIG_DIR = osp.join(ROOT, 'benchmarks', 'configs')
CONFIGS = sorted(glob.glob(osp.join(CONFIG_DIR, '**', '*.py'), recursive=True))
KD_TERMS = ('loss_rpn_kd_cls', 'loss_rpn_kd_bbox', 'loss_kd_cls', 'loss_kd_bbox', 'loss_hint')

register_all_modules()


def bccd_config(name: str) -> Config:
    return Config.fromfile(osp.join(CONFIG_DIR, 'bccd', name))


# ----------------------------------------------------------------------------- configs


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(p, CONFIG_DIR))
def test_every_benchmark_config_loads_and_builds(path):
    cfg = Config.fromfile(path)
    if 'teacher_ckpt' in cfg.model:
        cfg.model.teacher_ckpt = None
    model = MODELS.build(cfg.model)
    # from scratch, batch norm trained, BCCD's 3 classes, batch 8 at lr 0.02
    assert cfg.model.backbone.init_cfg is None
    assert not model.backbone.norm_eval and model.backbone.frozen_stages == -1
    assert model.roi_head.bbox_head.num_classes == 3
    assert cfg.train_dataloader.dataset.metainfo.classes == ('RBC', 'WBC', 'Platelets')
    assert cfg.train_dataloader.batch_size == 8
    assert cfg.optim_wrapper.optimizer.lr == 0.02
    if hasattr(model, 'teacher'):
        assert model.teacher.backbone.depth == 50 and model.backbone.depth == 18
        assert not any(k.startswith('teacher') for k in model.state_dict())


def test_data_root_is_shared_bccd_beside_the_repository_or_the_environment(monkeypatch):
    cfg = bccd_config('faster-rcnn_r50_fpn_36e_bccd-640x480.py')
    expected = osp.normpath(osp.join(ROOT, '..', 'shared', 'datasets', 'bccd'))
    for key in ('train_dataloader', 'test_dataloader', 'val_dataloader'):
        assert osp.normpath(cfg[key].dataset.data_root) == expected
    assert osp.normpath(cfg.test_evaluator.ann_file) == osp.join(expected, 'annotations',
                                                                  'test.json')
    monkeypatch.setenv('MMKD_BCCD_ROOT', '/data/bccd')
    cfg = bccd_config('kd_faster-rcnn_r50-r18_fpn_12e_bccd-640x480.py')
    assert cfg.train_dataloader.dataset.data_root == '/data/bccd/'
    assert cfg.test_evaluator.ann_file == '/data/bccd/annotations/test.json'


def test_teacher_is_the_reference_run():
    cfg = bccd_config('faster-rcnn_r50_fpn_36e_bccd-640x480.py')
    assert cfg.model.backbone.depth == 50
    assert cfg.train_cfg.max_epochs == 36
    assert cfg.param_scheduler[1].milestones == [27, 33]
    assert cfg.train_dataloader.dataset.pipeline[2].scale == (640, 480)


TRAINING = ('train_dataloader', 'test_dataloader', 'test_evaluator', 'train_cfg',
            'param_scheduler', 'optim_wrapper', 'default_hooks', 'auto_scale_lr')


def _training(cfg: Config) -> dict:
    return {key: cfg.to_dict()[key] for key in TRAINING}


@pytest.mark.parametrize('name, variant', [(n, v) for n, v in bench.VARIANTS.items()
                                           if v.baseline is not None])
def test_distilled_student_trains_exactly_as_its_baseline(name, variant):
    kd = bccd_config(variant.config)
    base = bccd_config(bench.VARIANTS[variant.baseline].config)
    if name == 'kd_halfres':  # sees the teacher's input, downsampled: only the test matches
        assert kd.train_dataloader.dataset.pipeline[2].scale == (640, 480)
        assert kd.model.student_downsample == 2
        assert kd.test_dataloader.dataset.pipeline[1].scale == (320, 240)
        assert base.train_dataloader.dataset.pipeline[2].scale == (320, 240)
        kd.train_dataloader = base.train_dataloader
    assert _training(kd) == _training(base)
    assert kd.model.backbone == base.model.backbone and kd.model.neck == base.model.neck
    assert kd.train_cfg.max_epochs == 12 < bccd_config(bench.TEACHER.config).train_cfg.max_epochs


# variant: (terms on, mu = weight of the student's hard classification)
ABLATIONS = {
    'kd': (set(KD_TERMS), 0.5),
    'kd_soft_cls': ({'loss_rpn_kd_cls', 'loss_kd_cls'}, 0.5),
    'kd_soft_cls_no_bg_weight': ({'loss_rpn_kd_cls', 'loss_kd_cls'}, 0.5),
    'kd_bounded_reg': ({'loss_rpn_kd_bbox', 'loss_kd_bbox'}, 1.0),
    'kd_l2_reg': ({'loss_rpn_kd_bbox', 'loss_kd_bbox'}, 1.0),
    'kd_hint': ({'loss_hint'}, 1.0),
    'kd_hint_no_adapter': ({'loss_hint'}, 1.0),
}


@pytest.mark.parametrize('name', list(ABLATIONS))
def test_ablation_switches_on_exactly_its_terms(name):
    model = bccd_config(bench.VARIANTS[name].config).model
    terms, mu = ABLATIONS[name]
    assert {t for t in KD_TERMS if model[t] is not None} == terms
    assert model.rpn_head.loss_cls.loss_weight == mu
    assert model.roi_head.bbox_head.loss_cls.loss_weight == mu
    if 'loss_kd_cls' in terms:
        bg = 1.0 if name == 'kd_soft_cls_no_bg_weight' else 1.5
        assert model.loss_kd_cls.bg_weight == model.loss_rpn_kd_cls.bg_weight == bg
    if 'loss_kd_bbox' in terms:
        loss = 'TeacherL2RegressionLoss' if name == 'kd_l2_reg' else \
            'TeacherBoundedRegressionLoss'
        assert model.loss_kd_bbox.type == model.loss_rpn_kd_bbox.type == loss
    if 'loss_hint' in terms:
        assert (model.adapter is None) == (name == 'kd_hint_no_adapter')


def test_quick_mode_shrinks_images_and_schedule():
    cfg = bench.load_config(bench.VARIANTS['kd_halfres'], '/data/bccd')
    bench.make_quick(cfg)
    assert cfg.train_cfg.max_epochs == 1
    assert cfg.train_dataloader.dataset.pipeline[2].scale == (128, 96)
    assert cfg.test_dataloader.dataset.pipeline[1].scale == (64, 48)
    assert cfg.test_evaluator.ann_file == '/data/bccd/annotations/test.json'


def test_student_epochs_scale_the_lr_steps():
    cfg = bench.load_config(bench.VARIANTS['baseline'], None)
    bench.set_epochs(cfg, 24)
    assert cfg.train_cfg.max_epochs == 24
    assert cfg.param_scheduler[1].milestones == [18, 22]
    assert cfg.param_scheduler[0].end == 100  # the iteration-based warm-up stays


# ----------------------------------------------------------------------------- bookkeeping


def fake_result(path: str, bbox_map: float, map50: float, **extra) -> None:
    os.makedirs(path, exist_ok=True)
    with open(osp.join(path, 'result.json'), 'w') as f:
        json.dump(dict(bbox_mAP=bbox_map, bbox_mAP_50=map50, device='gpu', **extra), f)


def test_report_means_stds_gain_and_gap_closed(tmp_path):
    work = tmp_path / 'wd'
    fake_result(str(work / 'teacher'), 60.0, 90.0, checkpoint=str(tmp_path / 't.pth'))
    for seed, (b, k) in enumerate([(50.0, 55.0), (52.0, 56.0), (51.0, 57.0)]):
        fake_result(str(work / 'baseline' / f'seed{seed}'), b, b + 30)
        fake_result(str(work / 'kd' / f'seed{seed}'), k, k + 30)
    fake_result(str(work / 'kd_hint' / 'seed0'), 53.0, 83.0)
    args = bench.parse_args(['--work-dir', str(work)])
    report = bench.accuracy_report(args, dict(done=[], failed=[], left=[]))
    assert report['teacher_map'] == 60.0 and report['seeds'] == [0, 1, 2]
    assert report['baseline_map_mean'] == pytest.approx(51.0)
    assert report['baseline_map_std'] == pytest.approx(1.0)  # sample std of 50, 52, 51
    assert report['kd_map_mean'] == pytest.approx(56.0)
    assert report['kd_map_std'] == pytest.approx(1.0)
    assert report['kd_map50_mean'] == pytest.approx(86.0)
    assert report['gain'] == pytest.approx(5.0)
    assert report['gap_closed'] == pytest.approx(5.0 / 9.0, abs=1e-3)
    assert report['targets']['gain_met'] and report['targets']['gain_above_spread']
    assert report['targets']['gap_met']
    hint = report['variants']['kd_hint']
    assert hint['map_std'] is None and hint['gain'] == pytest.approx(2.0)
    assert report['variants']['kd']['per_seed']['2'] == dict(bbox_mAP=57.0, bbox_mAP_50=87.0,
                                                             train_s=None)
    assert report['resolution']['kd_map_mean'] is None and report['complete']


def test_results_json_keeps_other_sections_and_markdown_its_surroundings(tmp_path):
    path = tmp_path / 'results.json'
    path.write_text(json.dumps(dict(overhead=dict(step_ratio=1.05), accuracy=dict(old=1))))
    bench.write_results(str(path), dict(kd_map_mean=1.0))
    assert json.loads(path.read_text()) == dict(overhead=dict(step_ratio=1.05),
                                                accuracy=dict(kd_map_mean=1.0))
    md = tmp_path / 'RESULTS.md'
    md.write_text('# Results\n\n## Overhead\n\ntable\n')
    bench.write_markdown(str(md), 'first\n')
    bench.write_markdown(str(md), 'second\n')
    text = md.read_text()
    assert text.startswith('# Results\n\n## Overhead\n\ntable\n')
    assert 'second' in text and 'first' not in text and text.count(bench.MD_BEGIN) == 1


def test_work_dir_of_other_settings_is_refused(tmp_path):
    args = bench.parse_args(['--work-dir', str(tmp_path), '--variants', 'baseline'])
    job = bench.student_job(args, 'baseline', 0)
    os.makedirs(job.work_dir)
    bench.write_json(osp.join(job.work_dir, 'job.json'),
                     dict(fingerprint=dict(quick=True, student_epochs=None)))
    with pytest.raises(SystemExit, match='give another --work-dir'):
        bench.plan(args)


def test_students_stage_needs_a_teacher(tmp_path):
    args = bench.parse_args(['--work-dir', str(tmp_path), '--stage', 'students'])
    with pytest.raises(SystemExit, match='needs the teacher'):
        bench.plan(args)


# ----------------------------------------------------------------------------- scheduling

FAKE_RUN = """
import json, os, sys, time
work_dir, ckpt, log, sleep_s = sys.argv[1:5]
with open(log, 'a') as f:
    f.write(f'start {work_dir} {time.time()}\\n')
time.sleep(float(sleep_s))
open(ckpt, 'w').close()
with open(os.path.join(work_dir, 'result.json'), 'w') as f:
    json.dump(dict(bbox_mAP=1.0, bbox_mAP_50=2.0, checkpoint=ckpt), f)
with open(log, 'a') as f:
    f.write(f'end {work_dir} {time.time()}\\n')
"""


def fake_launcher(log: str, sleep_s: float):
    def launch(job, teacher_ckpt):
        os.makedirs(job.work_dir, exist_ok=True)
        assert (teacher_ckpt is not None) == job.needs_teacher
        ckpt = osp.join(job.work_dir, 'epoch_1.pth')
        return subprocess.Popen(
            [sys.executable, '-c', FAKE_RUN, job.work_dir, ckpt, log, str(sleep_s)],
            start_new_session=True)

    return launch


def test_runs_in_parallel_and_distilled_students_wait_for_the_teacher(tmp_path):
    args = bench.parse_args(['--work-dir', str(tmp_path / 'wd'), '--variants', 'baseline',
                             'kd', '--seeds', '0', '1'])
    jobs = bench.plan(args)
    log = str(tmp_path / 'log')
    out = bench.run_jobs(jobs, 2, fake_launcher(log, 0.3), poll_s=0.05)
    assert sorted(j.label for j in out['done']) == sorted(j.label for j in jobs)
    events = [line.split() for line in open(log)]
    times = {(kind, osp.relpath(path, tmp_path / 'wd')): float(t) for kind, path, t in events}
    teacher_end = times[('end', 'teacher')]
    assert all(times[('start', f'kd/seed{s}')] >= teacher_end for s in (0, 1))
    assert times[('start', 'baseline/seed0')] < teacher_end  # beside the teacher
    running, peak = 0, 0
    for kind, _, _ in sorted(events, key=lambda e: float(e[2])):
        running += 1 if kind == 'start' else -1
        peak = max(peak, running)
    assert peak == 2
    # resumable: finished runs are skipped
    assert bench.run_jobs(jobs, 2, fake_launcher(log, 0.3), poll_s=0.05)['left'] == []
    assert len(open(log).readlines()) == len(events)


def test_time_limit_stops_the_runs_and_leaves_them_to_resume(tmp_path):
    args = bench.parse_args(['--work-dir', str(tmp_path / 'wd'), '--variants', 'baseline',
                             '--seeds', '0'])
    procs = []

    def launch(job, teacher_ckpt):
        procs.append(fake_launcher(str(tmp_path / 'log'), 60)(job, teacher_ckpt))
        return procs[-1]

    start = time.monotonic()
    out = bench.run_jobs(bench.plan(args), 2, launch, time_limit=0.5, poll_s=0.05)
    assert time.monotonic() - start < 30
    assert sorted(j.label for j in out['left']) == ['baseline/seed0', 'teacher']
    assert all(proc.poll() is not None for proc in procs)


# ----------------------------------------------------------------------------- end to end


def write_tiny_bccd(root: str) -> str:
    """A tiny dataset laid out and named as BCCD: annotations/{trainval,test}.json, images/."""
    os.makedirs(osp.join(root, 'annotations'))
    images = osp.join(root, 'images')
    os.makedirs(images)
    write_tiny_coco(images, num_images=4)
    with open(osp.join(images, 'ann.json')) as f:
        ann = json.load(f)
    ann['categories'] = [dict(id=i + 1, name=name)
                         for i, name in enumerate(('RBC', 'WBC', 'Platelets'))]
    for i, box in enumerate(ann['annotations']):
        box['category_id'] = i % 3 + 1
    for split in ('trainval', 'test'):
        with open(osp.join(root, 'annotations', f'{split}.json'), 'w') as f:
            json.dump(ann, f)
    return root


def test_quick_pipeline_end_to_end(tmp_path):
    data = write_tiny_bccd(str(tmp_path / 'bccd'))
    work, out = tmp_path / 'wd', tmp_path / 'results.json'
    out.write_text(json.dumps(dict(overhead=dict(step_ratio=1.05))))
    cmd = [sys.executable, osp.join(ROOT, 'benchmarks', 'bccd_accuracy.py'), '--quick',
           '--data-root', data, '--work-dir', str(work), '--seeds', '0', '1', '--variants',
           'baseline', 'kd', '--out', str(out), '--markdown', str(tmp_path / 'RESULTS.md'),
           '--archive', str(tmp_path / 'runs.tgz')]
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    results = json.loads(out.read_text())
    assert results['overhead'] == dict(step_ratio=1.05)
    acc = results['accuracy']
    for key in ('teacher_map', 'baseline_map_mean', 'baseline_map_std', 'kd_map_mean',
                'kd_map_std', 'baseline_map50_mean', 'kd_map50_mean', 'gain', 'gap_closed',
                'seeds', 'command', 'device', 'versions', 'date', 'variants'):
        assert key in acc
    assert acc['quick'] and acc['complete'] and acc['seeds'] == [0, 1]
    assert acc['device'] == 'cpu' and acc['versions']['mmdet'] == '3.3.0'
    assert '--quick' in acc['command']
    for name in ('baseline', 'kd'):
        per_seed = acc['variants'][name]['per_seed']
        assert sorted(per_seed) == ['0', '1']
        maps = [per_seed[s]['bbox_mAP'] for s in ('0', '1')]
        maps50 = [per_seed[s]['bbox_mAP_50'] for s in ('0', '1')]
        assert acc[f'{name}_map_mean'] == pytest.approx(statistics.mean(maps), abs=1e-3)
        assert acc[f'{name}_map_std'] == pytest.approx(statistics.stdev(maps), abs=1e-3)
        assert acc[f'{name}_map50_mean'] == pytest.approx(statistics.mean(maps50), abs=1e-3)
        for seed in (0, 1):
            result = json.loads((work / name / f'seed{seed}' / 'result.json').read_text())
            assert per_seed[str(seed)]['bbox_mAP'] == result['bbox_mAP']
            assert result['bbox_mAP'] == pytest.approx(100 * result['metrics']['coco/bbox_mAP'])
    kd_run = json.loads((work / 'kd' / 'seed0' / 'job.json').read_text())
    assert kd_run['teacher_ckpt'] == osp.join(str(work), 'teacher', 'epoch_1.pth')
    assert 'python benchmarks/bccd_accuracy.py --quick --variants kd --seeds 0 1' in \
        (tmp_path / 'RESULTS.md').read_text()
    assert (tmp_path / 'runs.tgz').stat().st_size > 0

    # Again: every run is done, nothing is retrained.
    again = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(tmp_path))
    assert again.returncode == 0 and '] start ' not in again.stdout

    png = tmp_path / 'accuracy.png'
    plot_results.main(['--results', str(out), '--out', str(png)])
    assert png.stat().st_size > 1000
