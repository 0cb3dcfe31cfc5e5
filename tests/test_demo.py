"""tools/demo.py end to end at --quick size: report content, figures, resumption."""
import importlib.util
import json
import os
import os.path as osp
import re
import subprocess
import sys

import cv2
import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
STAGES = [f'{model}.{step}' for model in ('teacher', 'student', 'distilled')
          for step in ('train', 'test')]


def load_demo_module():
    spec = importlib.util.spec_from_file_location('demo', osp.join(ROOT, 'tools', 'demo.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_demo(work_dir: str) -> str:
    env = dict(os.environ, OMP_NUM_THREADS='2', PYTHONWARNINGS='ignore')
    proc = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'demo.py'), '--quick', '--device', 'cpu',
         '--work-dir', work_dir],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def skipped(stdout: str) -> set:
    return set(re.findall(r'skipped \((\w+\.\w+)\.done\.json\)', stdout))


def table(work_dir: str) -> dict:
    """Rows of the report's table by model, each a dict of column -> cell."""
    with open(osp.join(work_dir, 'report.md')) as f:
        lines = [line for line in f if line.startswith('|')]
    header = [cell.strip() for cell in lines[0].strip('|\n').split('|')]
    rows = [[cell.strip() for cell in line.strip('|\n').split('|')] for line in lines[2:]]
    return {row[0]: dict(zip(header, row)) for row in rows}


@pytest.fixture(scope='module')
def demo(tmp_path_factory):
    work_dir = str(tmp_path_factory.mktemp('demo'))
    return work_dir, run_demo(work_dir)


def test_report_table_has_the_three_models_with_numbers(demo):
    work_dir, stdout = demo
    assert skipped(stdout) == set()
    rows = table(work_dir)
    assert len(rows) == 3
    teacher, student, distilled = (next(row for name, row in rows.items() if key in name)
                                   for key in ('Teacher', 'baseline', 'Distilled'))
    for row in (teacher, student, distilled):
        assert 0.0 <= float(row['mAP']) <= float(row['mAP@0.5']) <= 1.0
        assert float(row['inference / image'].split()[0]) > 0
        assert re.fullmatch(r'\d+ min \d\d s', row['training time'])
    params = [float(row['parameters'].split()[0]) for row in (teacher, student, distilled)]
    # R-50 teacher larger than the R-18 students; distillation adds nothing at inference
    assert params[0] > 1.5 * params[1] and params[1] == params[2]
    with open(osp.join(work_dir, 'report.md')) as f:
        assert 'gap' in f.read()


def test_report_figure_and_drawn_detections_are_pngs(demo):
    work_dir, _ = demo
    figure = cv2.imread(osp.join(work_dir, 'report.png'))
    assert figure is not None and figure.shape[1] > 2 * figure.shape[0]
    drawn = sorted(os.listdir(osp.join(work_dir, 'detections')))
    assert len(drawn) == 4
    for name in drawn:
        path = osp.join(work_dir, 'detections', name)
        with open(path, 'rb') as f:
            assert f.read(8) == b'\x89PNG\r\n\x1a\n'
        img = cv2.imread(path)
        # ground truth | predictions, side by side
        assert img.shape[1] == 2 * img.shape[0] and img.std() > 0


def test_rerun_skips_done_stages_and_redoes_invalidated_ones(demo):
    work_dir, _ = demo
    before = table(work_dir)
    assert skipped(run_demo(work_dir)) == set(STAGES)
    assert table(work_dir) == before

    # a teacher trained again (another result) makes its test and the distilled student
    # stale; the baseline student does not depend on it
    marker = osp.join(work_dir, 'teacher.train.done.json')
    with open(marker) as f:
        done = json.load(f)
    done['result']['train_time'] += 1.0
    with open(marker, 'w') as f:
        json.dump(done, f)
    assert skipped(run_demo(work_dir)) == {'teacher.train', 'student.train', 'student.test'}


def test_gap_sentence_measures_the_share_and_says_when_it_cannot():
    gap_sentence = load_demo_module().gap_sentence
    teacher, student = dict(mAP=0.30, mAP_50=0.50), dict(mAP=0.10, mAP_50=0.30)
    text = gap_sentence(teacher, student, dict(mAP=0.15, mAP_50=0.28))
    assert 'closed 25% ' in text and '+0.050 of 0.200' in text and 'mAP@0.5 -0.020' in text
    assert 'did not help' not in text
    assert 'did not help' in gap_sentence(teacher, student, dict(mAP=0.09, mAP_50=0.3))
    text = gap_sentence(dict(mAP=0.105, mAP_50=0.3), student, dict(mAP=0.2, mAP_50=0.4))
    assert 'not clearly better' in text and 'closed' not in text
