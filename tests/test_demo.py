"""tools/demo.py end to end at --quick size, one seed: report, figure, detections, record;
the per-seed record and sentences with hand-made results."""
import os
import os.path as osp
import subprocess
import sys

import cv2
import pytest

from mmkd.experiments.records import read_json

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(ROOT, 'tools'))
import demo  # noqa: E402


@pytest.fixture(scope='module')
def quick_demo(tmp_path_factory):
    work = str(tmp_path_factory.mktemp('demo'))
    proc = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'demo.py'), '--quick', '--device', 'cpu',
         '--work-dir', work, '--seeds', '0', '--parallel', '2', '--results',
         osp.join(work, 'results.json')],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
        env=dict(os.environ, PYTHONWARNINGS='ignore'))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    runs = {f'{name}/seed{seed}': read_json(osp.join(work, name, f'seed{seed}', 'result.json'))
            for name in ('teacher', 'student', 'distilled') for seed in [0]}
    return work, runs


def table(work: str) -> dict:
    with open(osp.join(work, 'report.md')) as f:
        lines = [line for line in f if line.startswith('|')]
    header = [cell.strip() for cell in lines[0].strip('|\n').split('|')]
    rows = [[cell.strip() for cell in line.strip('|\n').split('|')] for line in lines[2:]]
    return {row[0]: dict(zip(header, row)) for row in rows}


def test_record_holds_the_runs_numbers(quick_demo):
    work, runs = quick_demo
    record = read_json(osp.join(work, 'results.json'))['demo']
    assert record['seeds'] == [0] and record['quick']
    assert record['teacher_map'] == [runs['teacher/seed0']['mAP']]
    assert record['baseline_map'] == [runs['student/seed0']['mAP']]
    assert record['kd_map'] == [runs['distilled/seed0']['mAP']]
    assert record['command'].startswith('python tools/demo.py --quick')
    assert record['question'] == "Does distillation help on the demo's synthetic shapes? (1 seed)"
    with open(osp.join(work, 'RESULTS.md')) as f:  # regenerated beside the results
        text = f.read()
    assert f"## {record['question']}\n" in text
    kd_map = runs['distilled/seed0']['mAP']
    assert f'| Distilled student: R-18-FPN + mmkd | {kd_map:.1f} | {kd_map:.1f} |' in text


def test_record_holds_every_seed_of_every_run():
    args = demo.parse_args(['--seeds', '0', '2'])
    results = {'teacher/seed0': dict(mAP=30.0, mAP_50=50.0)}
    for seed, (b, k) in zip((0, 2), ((10.0, 12.0), (11.0, 14.0))):
        results[f'student/seed{seed}'] = dict(mAP=b, mAP_50=b + 20)
        results[f'distilled/seed{seed}'] = dict(mAP=k, mAP_50=k + 20)
    record = demo.demo_record(results, args)
    assert record['seeds'] == [0, 2]
    assert record['teacher_map'] == [30.0, 30.0]  # one teacher for every seed
    assert (record['baseline_map'], record['kd_map']) == ([10.0, 11.0], [12.0, 14.0])
    assert (record['baseline_map_50'], record['kd_map_50']) == ([30.0, 31.0], [32.0, 34.0])
    assert record['command'] == 'python tools/demo.py --seeds 0 2'


def test_report_table_shows_each_runs_numbers(quick_demo):
    work, runs = quick_demo
    rows = table(work)
    assert list(rows) == [title for _, title in demo.MODELS.values()]
    teacher, student, distilled = rows.values()
    assert teacher['mAP per seed'] == f"{runs['teacher/seed0']['mAP']:.1f}"
    for row, name in ((student, 'student'), (distilled, 'distilled')):
        assert row['mAP per seed'] == f"{runs[f'{name}/seed0']['mAP']:.1f}"
        assert row['parameters'] == f"{runs[f'{name}/seed0']['params'] / 1e6:.2f} M"
    # R-50 teacher larger than the R-18 students; distillation adds nothing at inference
    assert runs['teacher/seed0']['params'] > 1.5 * runs['student/seed0']['params']
    assert runs['student/seed0']['params'] == runs['distilled/seed0']['params']
    text = open(osp.join(work, 'report.md')).read()
    assert 'students with seed 0 (one seed: the default; --seeds 0 1 2 runs more).' in text
    assert 'Teacher check before training (TeacherCheckHook, 4 test images)' in text


def test_figure_and_side_by_side_detections(quick_demo):
    work, _ = quick_demo
    figure = cv2.imread(osp.join(work, 'report.png'))
    assert figure is not None and figure.shape[1] > 3 * figure.shape[0]
    drawn = sorted(os.listdir(osp.join(work, 'detections')))
    assert len(drawn) == demo.NUM_DRAWN
    img = cv2.imread(osp.join(work, 'detections', drawn[0]))
    # ground truth | teacher | student alone | distilled: 96 px images x 3, 8 px margins
    assert img.shape[:2] == (3 * 96 + 28, 4 * (3 * 96 + 8))


def test_gap_sentence_per_seed():
    record = dict(seeds=[0, 1], teacher_map=[30.0, 30.0], baseline_map=[10.0, 20.0],
                  kd_map=[15.0, 18.0])
    assert demo.gap_sentence(record) == (
        'Distillation did not help on every seed: seed 0: +5.0 mAP (25% of the gap); '
        'seed 1: -2.0 mAP (-20% of the gap).')
    record['kd_map'] = [15.0, 25.0]
    assert demo.gap_sentence(record).startswith('Distillation helped on every seed')
