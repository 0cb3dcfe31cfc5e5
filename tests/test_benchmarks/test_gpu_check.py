"""The GPU check: its steps on a GPU, and its --quick pipeline on the CPU end to end."""
import json
import os
import os.path as osp
import subprocess
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'benchmarks'))
import gpu_check  # noqa: E402


def _step(steps, name):
    return next(cmd for n, cmd in steps if n == name)


def test_gpu_steps_measure_amp_on_and_off_ld_and_the_study_on_cuda(tmp_path):
    args = gpu_check.parse_args(['--results', str(tmp_path / 'r.json')])
    steps = gpu_check.steps(args)
    assert [n for n, _ in steps] == ['overhead_gpu', 'overhead_gpu_amp', 'overhead_floor_gpu',
                                     'accuracy_gpu_check']
    plain, amp = _step(steps, 'overhead_gpu'), _step(steps, 'overhead_gpu_amp')
    assert '--amp' in amp and '--amp' not in plain and '--no-peer' not in plain  # LD peer on
    assert all(c[c.index('--device') + 1] == 'cuda' for _, c in steps[:3])
    study = _step(steps, 'accuracy_gpu_check')
    variants = study[study.index('--variants') + 1:study.index('--parallel')]
    assert variants == ['baseline', 'kd', 'kd_amp']
    assert all(c[c.index('--results') + 1] == str(tmp_path / 'r.json') for _, c in steps)


def test_without_a_gpu_the_full_check_refuses_and_names_quick(monkeypatch):
    import pytest
    import torch
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    with pytest.raises(SystemExit, match='no GPU here: run with --quick'):
        gpu_check.main([])


def test_quick_runs_every_step_on_the_cpu_and_records_them(tmp_path, tiny_bccd):
    work = tmp_path / 'work'
    proc = subprocess.run(
        [sys.executable, osp.join(ROOT, 'benchmarks', 'gpu_check.py'), '--quick',
         '--data-root', tiny_bccd, '--work-dir', str(work)],
        capture_output=True, text=True, timeout=900,
        env=dict(os.environ, PYTHONWARNINGS='ignore', OMP_NUM_THREADS='1'))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads((work / 'gpu_check.json').read_text())
    assert list(summary) == ['overhead_gpu', 'overhead_floor_gpu', 'accuracy_gpu_check']
    assert all(s['exit'] == 0 for s in summary.values())
    results = json.loads((work / 'results.json').read_text())
    assert results['overhead_gpu']['device'].startswith('CPU')
    floor = results['overhead_floor_gpu']['pairs']['demo']
    assert floor['floor_s'] == (floor['models']['student']['median_s'] +
                                floor['models']['teacher']['median_s'])
    study = results['accuracy']['variants']
    assert set(study) == {'baseline', 'kd', 'kd_amp'}
    # on the CPU the mixed-precision run falls back to full precision, and says so in its config
    kd_amp = open(work / 'kd_amp' / 'seed0' / 'config.py').read()
    assert "type='OptimWrapper'" in kd_amp and 'AmpOptimWrapper' not in kd_amp
    assert '## Is the distilled step at its floor' in (work / 'RESULTS.md').read_text()
