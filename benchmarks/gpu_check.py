"""The GPU measurements in one call, sized for about 10 minutes of one H100/H200-class GPU.

    source .gpu/setup.sh && python3 benchmarks/gpu_check.py --data-root .bccd   # DEVELOPERS.md
    python benchmarks/gpu_check.py --quick --data-root /path/to/bccd   # the pipeline, on the CPU

In turn, each with what is left of ``--budget`` seconds:
1. ``overhead_gpu`` and ``overhead_gpu_amp``: the distilled step against the student's and
   mmdet's LD against its GFL student (benchmarks/overhead.py), mixed precision off and on;
2. ``overhead_floor_gpu``: the distilled step against its floor, student step plus teacher
   forward, at the demo's and the BCCD study's sizes (``overhead.py --floor``);
3. ``accuracy_gpu_check``: the BCCD study's CPU configs trained on the GPU, four seeds at a
   time: the student alone, distilled, and distilled with mixed precision (``kd_amp``, 438
   iterations; a non-finite loss stops the run and fails the check). The study stops at the
   budget and resumes when run again (``work_dirs/bccd_accuracy_gpu_check``).
Records go into ``--results`` (benchmarks/results.json) with the GPU named. ``--quick`` runs
the same steps on a few tiny images on the CPU, without mixed precision (mmengine's AMP
wrapper needs a GPU), and keeps its records in ``work_dirs/gpu_check_quick``.
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import List, Optional, Tuple

HERE = osp.dirname(osp.abspath(__file__))
ROOT = osp.dirname(HERE)
SEEDS = ['0', '1', '2', '3']


def steps(args: argparse.Namespace) -> List[Tuple[str, List[str]]]:
    """(record or step name, command) in the order they run."""
    py, results = sys.executable, ['--results', args.results]
    overhead = [py, osp.join(HERE, 'overhead.py')]
    bccd = [py, osp.join(HERE, 'bccd_accuracy.py')] + (
        ['--data-root', args.data_root] if args.data_root else [])
    if args.quick:
        tiny = ['--device', 'cpu', '--steps', '1', '--warmup', '0']
        return [
            ('overhead_gpu', overhead + tiny + ['--sizes', '1x64x96', '--no-peer'] + results +
             ['--section', 'overhead_gpu']),
            ('overhead_floor_gpu', overhead + tiny + ['--floor', 'demo'] + results +
             ['--section', 'overhead_floor_gpu']),
            ('accuracy_gpu_check', bccd + ['--quick', '--work-dir', args.work_dir, '--seeds',
                                           '0', '--variants', 'baseline', 'kd', 'kd_amp',
                                           '--parallel', '1']),
        ]
    gpu = ['--device', 'cuda', '--sizes', '2x800x1216', '8x480x640', '--steps', '20',
           '--warmup', '5']
    return [
        ('overhead_gpu', overhead + gpu + results + ['--section', 'overhead_gpu']),
        ('overhead_gpu_amp', overhead + gpu + ['--amp'] + results +
         ['--section', 'overhead_gpu_amp']),
        ('overhead_floor_gpu', overhead + ['--device', 'cuda', '--floor', 'demo', 'bccd',
                                           '--steps', '20', '--warmup', '5'] + results +
         ['--section', 'overhead_floor_gpu']),
        ('accuracy_gpu_check', bccd + ['--work-dir', args.work_dir, '--seeds', *SEEDS,
                                       '--variants', 'baseline', 'kd', 'kd_amp',
                                       '--parallel', '4', '--section', 'accuracy_gpu_check',
                                       '--question', 'Does distillation help when trained '
                                       'on a GPU, with and without mixed precision?'] +
         results),
    ]


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--quick', action='store_true',
                        help='the pipeline on the CPU, tiny; records in the work dir')
    parser.add_argument('--data-root', help='BCCD (default: the study configs\' own)')
    parser.add_argument('--budget', type=float, default=570,
                        help='seconds for all steps; the BCCD study stops at what is left')
    parser.add_argument('--results', help='default: benchmarks/results.json '
                        '(--quick: gpu_check_quick/results.json in work_dirs)')
    parser.add_argument('--work-dir', help='the BCCD study\'s (default: '
                        'work_dirs/bccd_accuracy_gpu_check, --quick: work_dirs/gpu_check_quick)')
    args = parser.parse_args(argv)
    quick_dir = osp.join(ROOT, 'work_dirs', 'gpu_check_quick')
    args.work_dir = osp.abspath(args.work_dir or (
        quick_dir if args.quick else osp.join(ROOT, 'work_dirs', 'bccd_accuracy_gpu_check')))
    args.results = osp.abspath(args.results or (
        osp.join(args.work_dir, 'results.json') if args.quick
        else osp.join(HERE, 'results.json')))
    return args


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    if not args.quick:
        import torch
        if not torch.cuda.is_available():
            raise SystemExit('no GPU here: run with --quick for the pipeline on the CPU')
    os.makedirs(args.work_dir, exist_ok=True)
    deadline = time.monotonic() + args.budget
    summary = {}
    for name, cmd in steps(args):
        left = deadline - time.monotonic()
        if left < 30:
            summary[name] = dict(status='skipped: no time left')
            continue
        if name == 'accuracy_gpu_check' and not args.quick:
            cmd = cmd + ['--time-limit', str(int(left - 20))]
        print(f"[gpu_check] {name}: {' '.join(cmd[1:])}", flush=True)
        start = time.monotonic()
        try:
            code = subprocess.run(cmd, cwd=ROOT, timeout=left).returncode
        except subprocess.TimeoutExpired:
            code = 'timeout'
        summary[name] = dict(exit=code, seconds=round(time.monotonic() - start, 1))
        print(f'[gpu_check] {name}: exit {code} in {summary[name]["seconds"]} s', flush=True)
    with open(osp.join(args.work_dir, 'gpu_check.json'), 'w') as f:
        json.dump(summary, f, indent=2)
    print(json.dumps(summary, indent=2))
    return 0 if all(s.get('exit') == 0 for s in summary.values()) else 1


if __name__ == '__main__':
    sys.exit(main())
