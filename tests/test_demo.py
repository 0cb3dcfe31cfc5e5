"""tools/demo.py end to end at --quick size, two seeds: report, figure, detections, record."""
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
         '--work-dir', work, '--seeds', '0', '1', '--parallel', '2', '--results',
         osp.join(work, 'results.json')],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
        env=dict(os.environ, PYTHONWARNINGS='ignore'))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    runs = {f'{name}/seed{seed}': read_json(osp.join(work, name, f'seed{seed}', 'result.json'))
            for name, seeds in (('teacher', [0]), ('student', [0, 1]), ('distilled', [0, 1]))
            for seed in seeds}
    return work, runs


def table(work: str) -> dict:
    with open(osp.join(work, 'report.md')) as f:
        lines = [line for line in f if line.startswith('|')]
    header = [cell.strip() for cell in lines[0].strip('|\n').split('|')]
    rows = [[cell.strip() for cell in line.strip('|\n').split('|')] for line in lines[2:]]
    return {row[0]: dict(zip(header, row)) for row in rows}


def test_record_holds_every_seed_of_every_run(quick_demo):
    work, runs = quick_demo
    record = read_json(osp.join(work, 'results.json'))['demo']
    assert record['seeds'] == [0, 1] and record['quick']
    assert record['teacher_map'] == [runs['teacher/seed0']['mAP']] * 2  # one teacher
    assert record['baseline_map'] == [runs[f'student/seed{s}']['mAP'] for s in (0, 1)]
    assert record['kd_map'] == [runs[f'distilled/seed{s}']['mAP'] for s in (0, 1)]
    assert record['command'].startswith('python tools/demo.py --quick')


def test_report_table_shows_each_runs_numbers(quick_demo):
    work, runs = quick_demo
    rows = table(work)
    assert list(rows) == [title for _, title in demo.MODELS.values()]
    teacher, student, distilled = rows.values()
    assert teacher['mAP per seed'] == f"{runs['teacher/seed0']['mAP']:.1f}"
    for row, name in ((student, 'student'), (distilled, 'distilled')):
        assert row['mAP per seed'] == ' / '.join(f"{runs[f'{name}/seed{s}']['mAP']:.1f}"
                                                 for s in (0, 1))
        assert row['parameters'] == f"{runs[f'{name}/seed0']['params'] / 1e6:.2f} M"
    # R-50 teacher larger than the R-18 students; distillation adds nothing at inference
    assert runs['teacher/seed0']['params'] > 1.5 * runs['student/seed0']['params']
    assert runs['student/seed0']['params'] == runs['distilled/seed0']['params']
    text = open(osp.join(work, 'report.md')).read()
    assert 'students with seeds 0, 1.' in text
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
