# Copyright (c) mmkd contributors. All rights reserved.
"""The mmkd demo: distillation end to end on a synthetic dataset, in one command.

    make demo                                    # or: python tools/demo.py (one seed)
    python tools/demo.py --seeds 0 1 2 --parallel 2 --results benchmarks/results.json
                                                 # record "demo"; RESULTS.md regenerated
    python tools/demo.py --quick                 # a few iterations: the pipeline only

Generates the shapes dataset (``mmkd/experiments/shapes.py``, fixed seed), trains the teacher
(Faster R-CNN R-50-FPN) once, then per seed the student alone and the student distilled by
mmkd (R-18-FPN, same schedule), tests each with the COCO metric, and writes ``report.md``,
``report.png`` (losses, teacher-student agreement, mAP) and drawn detections of the same test
images by all three into the work dir. Configs: ``configs/demo/`` (teacher -> student ->
distilled, one inheritance chain; the schedules are there). Runs are cached and resumable
(``mmkd/experiments/study.py``): a rerun redoes only what changed.
"""
import argparse
import os
import os.path as osp
import shlex
import sys
import time
from typing import Dict, List

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)  # this checkout's mmkd, installed or not

from benchmarks.results_md import heading, write_results_md  # noqa: E402
from mmkd.experiments.records import environment, fmt_mean_std, gap_closed, write_json_section  # noqa: E402
from mmkd.experiments.study import EXIT_INCOMPLETE, Run, run_study  # noqa: E402

CONFIGS = osp.join(ROOT, 'configs', 'demo')
MODELS = dict(
    teacher=('faster-rcnn_r50_fpn_shapes.py', 'Teacher: Faster R-CNN R-50-FPN'),
    student=('faster-rcnn_r18_fpn_shapes.py', 'Student alone: R-18-FPN'),
    distilled=('kd_faster_rcnn_r50_r18_shapes.py', 'Distilled student: R-18-FPN + mmkd'),
)
DATA = dict(num_train=600, num_test=150)
QUICK = dict(num_train=8, num_test=4, teacher_iters=3, student_iters=2)
NUM_DRAWN = 4
QUESTION = "Does distillation help on the demo's synthetic shapes?"  # the record's title


def parse_args(argv: List[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--device', choices=['cpu', 'cuda'], default=None,
                        help='default: cuda if available, else cpu')
    parser.add_argument('--seeds', nargs='+', type=int, default=[0],
                        help='student seeds, each a baseline and a distilled run on the same '
                        'teacher (default: %(default)s)')
    parser.add_argument('--parallel', type=int, default=1, help='runs at a time')
    parser.add_argument('--work-dir', default=osp.join(ROOT, 'work_dirs', 'demo'))
    parser.add_argument('--data-root', default=None,
                        help='dataset folder (default: data/shapes; <work-dir>/data with --quick)')
    parser.add_argument('--results', help='also record the per-seed mAPs in this JSON file '
                        '(section "demo"), e.g. benchmarks/results.json, and regenerate '
                        'RESULTS.md beside it')
    parser.add_argument('--quick', action='store_true',
                        help='tiny data and a few iterations: checks the pipeline only')
    args = parser.parse_args(argv)
    args.work_dir = osp.abspath(args.work_dir)
    args.data_root = osp.abspath(args.data_root or (
        osp.join(args.work_dir, 'data') if args.quick else osp.join(ROOT, 'data', 'shapes')))
    args.command = shlex.join(['python', 'tools/demo.py'] + argv)
    return args


def main(argv: List[str] = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.device == 'cpu':  # before CUDA is initialised: mmengine takes cuda when it can
        os.environ['CUDA_VISIBLE_DEVICES'] = ''
    start = time.time()
    from mmkd.experiments.shapes import generate_shapes_dataset
    sizes = {k: QUICK[k] if args.quick else DATA[k] for k in DATA}
    print(f"[demo] dataset: {sizes['num_train']} + {sizes['num_test']} synthetic images in "
          f'{args.data_root}', flush=True)
    data = generate_shapes_dataset(args.data_root, **sizes)
    results = run_study(plan(args.seeds), args.work_dir, prepare(data, args.quick),
                        args.parallel)
    failed = {k: r for k, r in results.items() if r['status'] != 'done'}
    if failed:
        print(f'[demo] unfinished runs: {failed}')
        return 1 if any(r['status'] == 'failed' for r in failed.values()) else EXIT_INCOMPLETE
    record = demo_record(results, args)
    path = write_report(results, record, args, time.time() - start)
    if args.results:
        write_json_section(args.results, 'demo', record)
        write_results_md(args.results)
    print(f'\n[demo] done in {_minutes(time.time() - start)}: {path}\n')
    with open(path) as f:
        print(f.read())
    return 0


def plan(seeds: List[int]) -> List[Run]:
    """One teacher (seed 0), then the student alone and distilled for every seed."""
    runs = [Run('teacher', osp.join(CONFIGS, MODELS['teacher'][0]))]
    for seed in seeds:
        runs.append(Run('student', osp.join(CONFIGS, MODELS['student'][0]), seed))
        runs.append(Run('distilled', osp.join(CONFIGS, MODELS['distilled'][0]), seed,
                        teacher='teacher/seed0'))
    return runs


def prepare(data: dict, quick: bool):
    """Point a run at the generated data; with ``quick``, a few iterations."""

    def _prepare(cfg, run: Run) -> None:
        for split, key in (('train', 'train_dataloader'), ('test', 'val_dataloader'),
                           ('test', 'test_dataloader')):
            cfg[key].dataset.update(data_root=data['data_root'], ann_file=data[f'{split}_ann'],
                                    data_prefix=dict(img=data[f'{split}_img']))
        for key in ('val_evaluator', 'test_evaluator'):
            cfg[key].ann_file = osp.join(data['data_root'], data['test_ann'])
        if quick:
            iters = QUICK['teacher_iters' if run.name == 'teacher' else 'student_iters']
            cfg.train_cfg.update(max_iters=iters, val_interval=iters, val_begin=iters + 1)
            cfg.param_scheduler = []
            cfg.default_hooks.checkpoint.interval = iters
            cfg.default_hooks.logger.interval = 1
            for hook in cfg.get('custom_hooks', []):
                if hook.type == 'TeacherCheckHook':  # a 3-iteration teacher scores 0
                    hook.threshold = 0

    return _prepare


def demo_record(results: Dict[str, dict], args: argparse.Namespace) -> dict:
    """The ``demo`` record: per-seed mAP (percent) of teacher, baseline and distilled."""
    teacher = results['teacher/seed0']
    seeds = len(args.seeds)
    return dict(
        question=f"{QUESTION} ({seeds} seed{'s' if seeds > 1 else ''})", command=args.command,
        **environment(), quick=args.quick, seeds=args.seeds,
        teacher_map=[teacher['mAP'] for _ in args.seeds],
        baseline_map=[results[f'student/seed{s}']['mAP'] for s in args.seeds],
        kd_map=[results[f'distilled/seed{s}']['mAP'] for s in args.seeds],
        teacher_map_50=teacher['mAP_50'],
        baseline_map_50=[results[f'student/seed{s}']['mAP_50'] for s in args.seeds],
        kd_map_50=[results[f'distilled/seed{s}']['mAP_50'] for s in args.seeds])


def write_report(results: Dict[str, dict], record: dict, args: argparse.Namespace,
                 total_s: float) -> str:
    """``report.md`` with its figure and drawn detections; returns its path."""
    from mmkd.experiments import demo_report

    seed = args.seeds[0]
    runs = {name: results[f'{name}/seed{0 if name == "teacher" else seed}'] for name in MODELS}
    figure = demo_report.plot(runs, record, osp.join(args.work_dir, 'report.png'))
    titles = {n: MODELS[n][1].split(':')[0] for n in MODELS}
    drawn = demo_report.draw_detections(
        {titles[n]: r for n, r in runs.items()}, osp.join(args.work_dir, 'detections'),
        NUM_DRAWN, pair=(titles['student'], titles['distilled']))
    seeds = ', '.join(str(s) for s in args.seeds)
    lines = [
        '# mmkd demo report', '',
        f"Synthetic shapes, {record['device']}, {record['date']}. The teacher trained once "
        f"(seed 0); the students with seed{'s' if len(args.seeds) > 1 else ''} {seeds}"
        f"{' (one seed: the default; --seeds 0 1 2 runs more)' if len(args.seeds) == 1 else ''}"
        f'. This run took {_minutes(total_s)}; runs found done were reused. mAP: COCO bbox '
        'mAP on the test split, in percent.', '',
        '| model | mAP per seed | mAP | mAP@0.5 | parameters | inference / image | training |',
        '|---|---|---|---|---|---|---|',
    ]
    rows = dict(teacher=(record['teacher_map'][:1], [record['teacher_map_50']]),
                student=(record['baseline_map'], record['baseline_map_50']),
                distilled=(record['kd_map'], record['kd_map_50']))
    for name, (maps, maps_50) in rows.items():
        run = runs[name]
        lines.append(f"| {MODELS[name][1]} | {' / '.join(f'{m:.1f}' for m in maps)} | "
                     f'{fmt_mean_std(maps)} | {fmt_mean_std(maps_50)} | '
                     f"{run['params'] / 1e6:.2f} M | {run['infer_ms']:.1f} ms | "
                     f"{_minutes(run['train_s'])} |")
    lines += ['', gap_sentence(record), '', teacher_check_sentence(runs['distilled']), '',
              f'![losses, agreement and mAP]({osp.basename(figure)})', '',
              'The distilled student\'s own `loss_rpn_cls` and `loss_cls` carry the weight mu '
              '(0.5), so they plot lower than the baseline\'s. Agreement: the share of '
              'sampled anchors (RPN) and RoIs (R-CNN) where student and teacher agree; it '
              'rises as the student learns from the teacher.', '',
              f'Test images, seed {seed}: {demo_report.detections_sentence(drawn)}', '']
    lines += [f'![{osp.basename(p)}](detections/{osp.basename(p)})' for p in drawn['paths']]
    path = osp.join(args.work_dir, 'report.md')
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return path


def markdown(record: dict, name: str = 'demo') -> str:
    """A demo record's section of RESULTS.md: heading, per-seed mAP of teacher, student alone
    and distilled student, and what distillation gained on each seed."""
    rows = dict(teacher=(record['teacher_map'][:1], [record['teacher_map_50']]),
                student=(record['baseline_map'], record['baseline_map_50']),
                distilled=(record['kd_map'], record['kd_map_50']))
    train_s = record.get('train_s', {})
    seeds = record['seeds']
    lines = heading(name, record, f"Seed{'s' if len(seeds) > 1 else ''} "
                    f"{', '.join(str(s) for s in seeds)}; the teacher trained once (seed 0).")
    lines += ['| model | mAP per seed | mAP | mAP@0.5 |' + (' training |' if train_s else ''),
              '|---|---|---|---|' + ('---|' if train_s else '')]
    for model, (maps, maps_50) in rows.items():
        lines.append(f"| {MODELS[model][1]} | {' / '.join(f'{m:.1f}' for m in maps)} | "
                     f'{fmt_mean_std(maps)} | {fmt_mean_std(maps_50)} |' +
                     (f' {_minutes(train_s[model])} |' if train_s else ''))
    lines += ['', gap_sentence(record)]
    if record.get('wall_s'):
        lines += ['', 'Wall time: ' + ', '.join(f'{k} {_minutes(v)}'
                                               for k, v in record['wall_s'].items()) + '.']
    return '\n'.join(lines) + '\n'


def gap_sentence(record: dict) -> str:
    """Per seed: what distillation gained, and the share of the teacher-student gap."""
    parts = []
    for seed, t, b, k in zip(record['seeds'], record['teacher_map'], record['baseline_map'],
                             record['kd_map']):
        closed = gap_closed(k, b, t)
        share = 'no gap to close' if closed is None else f'{100 * closed:.0f}% of the gap'
        parts.append(f'seed {seed}: {k - b:+.1f} mAP ({share})')
    gains = [k - b for b, k in zip(record['baseline_map'], record['kd_map'])]
    verdict = ('Distillation helped on every seed' if all(g > 0 for g in gains) else
               'Distillation did not help on every seed')
    return f"{verdict}: {'; '.join(parts)}."


def teacher_check_sentence(distilled: dict) -> str:
    check = distilled.get('teacher_check')
    if not check:
        return 'The teacher check (TeacherCheckHook) did not run.'
    return (f"Teacher check before training (TeacherCheckHook, {check['num_images']:.0f} test "
            f"images): teacher mAP {100 * check['coco/bbox_mAP']:.1f}, "
            f"{check['dets_per_img']:.1f} detections per image (score >= 0.3): passed.")


def _minutes(seconds: float) -> str:
    return f'{int(seconds // 60)} min {seconds % 60:02.0f} s'


if __name__ == '__main__':
    sys.exit(main())
