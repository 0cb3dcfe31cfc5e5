"""What distillation buys on BCCD: teacher, student baselines and distilled students, per seed.

Trains the R-50 teacher (or evaluates ``--teacher-ckpt``), then every student variant for every
seed, each run in its own process and work dir (``--parallel`` of them share one GPU: a BCCD
step is dominated by CPU-side target assignment, so the GPU idles behind any single run), and
tests each on BCCD's test split with the COCO bbox metric (``runner.test()``). Writes the
``accuracy`` section of ``benchmarks/results.json`` (other sections are kept) and a table in
``benchmarks/RESULTS.md``. Configs: ``benchmarks/configs/bccd/``.

How the teacher-student gap is made: the teacher is R-50-FPN at 640x480 trained 36 epochs (the
dataset README's reference run, 56.1 mAP); every student is R-18-FPN trained 12 epochs (the
teacher's schedule scaled by 1/3). ``baseline`` / ``kd`` see the teacher's 640x480 input; the
resolution experiment's ``baseline_320`` / ``kd_halfres`` see 320x240 (``kd_halfres``'s
teacher sees 640x480). At 36 epochs an R-18 from scratch nearly matches R-50 on BCCD.

Runs are resumable: a run whose ``result.json`` exists is skipped, a stopped one resumes from
its last epoch checkpoint. ``--time-limit`` stops everything cleanly (exit status 3): run the
same command again to go on.

    python benchmarks/bccd_accuracy.py --parallel 8 --time-limit 470   # repeat until done
    python benchmarks/bccd_accuracy.py --stage teacher                  # the teacher alone
    python benchmarks/bccd_accuracy.py --stage students --teacher-ckpt teacher.pth
    python benchmarks/bccd_accuracy.py --quick --data-root /tmp/tiny    # CPU pipeline check

On one H100 (a BCCD epoch at batch 8 is about 10 s; 30 trainings of 12 epochs and the 36-epoch
teacher): the teacher and the 6 baselines fill the first 8-minute call, the distilled students
the next one or two. The work dir must survive between calls (same machine): the teacher's
checkpoint is the one thing too large to carry. ``--archive`` packs every run's config, result
and log (no checkpoints) for the way back.
"""
import argparse
import datetime
import glob
import json
import os
import os.path as osp
import shlex
import signal
import statistics
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from mmengine.config import Config

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG_DIR = osp.join(ROOT, 'benchmarks', 'configs', 'bccd')
SCRIPT = 'benchmarks/bccd_accuracy.py'
QUICK_SCALE = 0.2  # --quick: 640x480 -> 128x96, 320x240 -> 64x48
QUICK_IMAGES = 2  # --quick: images trained and tested on, per run (one batch)
GAIN_TARGET = 1.5  # issue 6: distilled student >= baseline + 1.5 mAP ...
GAP_TARGET = 0.5  # ... and at least half of the teacher-student gap closed
EXIT_INCOMPLETE = 3
MD_BEGIN, MD_END = '<!-- bccd-accuracy:begin -->', '<!-- bccd-accuracy:end -->'


@dataclass(frozen=True)
class Variant:
    """A benchmark run type: its config and what it is compared to."""
    config: str  # relative to benchmarks/configs/bccd
    group: str  # 'teacher', 'main', 'resolution' or 'ablation'
    description: str
    baseline: Optional[str] = None  # the variant a distilled one is compared to


TEACHER = Variant('faster-rcnn_r50_fpn_36e_bccd-640x480.py', 'teacher',
                  'teacher R-50-FPN, 640x480, 36 epochs')
VARIANTS: Dict[str, Variant] = {
    'baseline': Variant('faster-rcnn_r18_fpn_12e_bccd-640x480.py', 'main',
                        'student R-18-FPN alone, 640x480, 12 epochs'),
    'kd': Variant('kd_faster-rcnn_r50-r18_fpn_12e_bccd-640x480.py', 'main',
                  'distilled, all terms', 'baseline'),
    'baseline_320': Variant('faster-rcnn_r18_fpn_12e_bccd-320x240.py', 'resolution',
                            'student R-18-FPN alone, 320x240, 12 epochs'),
    'kd_halfres': Variant('kd_faster-rcnn_r50-r18_fpn_12e_bccd-halfres.py', 'resolution',
                          'distilled, all terms, teacher 640x480, student 320x240',
                          'baseline_320'),
    'kd_soft_cls': Variant('ablation/kd_soft-cls.py', 'ablation',
                           'soft classification only, w_bg 1.5', 'baseline'),
    'kd_soft_cls_no_bg_weight': Variant('ablation/kd_soft-cls_no-bg-weight.py', 'ablation',
                                        'soft classification only, w_bg 1', 'baseline'),
    'kd_bounded_reg': Variant('ablation/kd_bounded-reg.py', 'ablation',
                              'teacher-bounded regression only', 'baseline'),
    'kd_l2_reg': Variant('ablation/kd_l2-reg.py', 'ablation',
                         'plain L2 to the teacher regression only', 'baseline'),
    'kd_hint': Variant('ablation/kd_hint.py', 'ablation', 'hints only, with adaptation layer',
                       'baseline'),
    'kd_hint_no_adapter': Variant('ablation/kd_hint_no-adapter.py', 'ablation',
                                  'hints only, no adaptation layer', 'baseline'),
}
GAP_SETTING = ('teacher R-50-FPN 640x480 36 epochs; students R-18-FPN 12 epochs (the '
               "teacher's schedule scaled by 1/3), from scratch; main: students at 640x480; "
               'resolution: students at 320x240, kd_halfres teacher at 640x480')


@dataclass(frozen=True)
class Job:
    """One training (or, with ``load_from`` and ``train=False``, one evaluation)."""
    name: str  # 'teacher' or a key of VARIANTS
    seed: int
    work_dir: str
    train: bool = True
    load_from: Optional[str] = None

    @property
    def variant(self) -> Variant:
        return TEACHER if self.name == 'teacher' else VARIANTS[self.name]

    @property
    def needs_teacher(self) -> bool:
        return self.variant.baseline is not None

    @property
    def label(self) -> str:
        return self.name if self.name == 'teacher' else f'{self.name}/seed{self.seed}'


# ----------------------------------------------------------------------------- files


def read_json(path: str) -> Optional[dict]:
    if not osp.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def write_json(path: str, data: dict) -> None:
    """Write atomically: a run killed mid-write leaves no half file that reads as done."""
    tmp = f'{path}.tmp'
    with open(tmp, 'w') as f:
        json.dump(data, f, indent=2)
        f.write('\n')
    os.replace(tmp, path)


def job_result(job: Job) -> Optional[dict]:
    """The job's result, or None if it has not finished (for the teacher: or lost its
    checkpoint, e.g. results restored on a fresh machine)."""
    result = read_json(osp.join(job.work_dir, 'result.json'))
    if result and job.name == 'teacher' and not osp.isfile(result.get('checkpoint') or ''):
        return None
    return result


# ----------------------------------------------------------------------------- configs


def set_data_root(cfg: Config, root: str) -> None:
    """Point every dataset and evaluator of ``cfg`` at ``root``."""
    root = osp.abspath(root) + '/'
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(key):
            cfg[key].dataset.data_root = root
    for key in ('val_evaluator', 'test_evaluator'):
        if cfg.get(key):
            cfg[key].ann_file = root + cfg.test_dataloader.dataset.ann_file


def check_data_root(cfg: Config) -> None:
    """Exit with a message naming the path if the training or test annotations are missing."""
    for key in ('train_dataloader', 'test_dataloader'):
        dataset = cfg[key].dataset
        ann_file = osp.join(dataset.data_root, dataset.ann_file)
        if not osp.isfile(ann_file):
            raise SystemExit(f"BCCD annotations '{osp.normpath(ann_file)}' not found: give "
                             '--data-root /path/to/bccd (holding annotations/trainval.json, '
                             'annotations/test.json and images/)')


def set_epochs(cfg: Config, epochs: int) -> None:
    """Train ``epochs`` epochs; epoch-based LR steps are scaled with the schedule."""
    factor = epochs / cfg.train_cfg.max_epochs
    cfg.train_cfg.max_epochs = epochs
    cfg.train_cfg.val_interval = epochs
    for scheduler in cfg.param_scheduler:
        if scheduler.get('by_epoch', True):
            scheduler.end = epochs
            if 'milestones' in scheduler:
                scheduler.milestones = [max(1, round(m * factor)) for m in scheduler.milestones]


def make_quick(cfg: Config) -> None:
    """A few iterations on a few tiny images: the whole code path, in seconds on a CPU."""
    set_epochs(cfg, 1)
    for key in ('train_dataloader', 'test_dataloader'):
        loader = cfg[key]
        loader.update(batch_size=2, num_workers=0, persistent_workers=False)
        loader.dataset.indices = QUICK_IMAGES
        for transform in loader.dataset.pipeline:
            if transform.type == 'Resize':
                transform.scale = tuple(round(s * QUICK_SCALE) for s in transform.scale)
    # Fewer anchors, proposals and RoIs: the R-CNN heads dominate a CPU step.
    train_cfg, test_cfg = cfg.model.train_cfg, cfg.model.test_cfg
    train_cfg.rpn.sampler.num = 64
    train_cfg.rpn_proposal.update(nms_pre=200, max_per_img=100)
    train_cfg.rcnn.sampler.num = 32
    test_cfg.rpn.update(nms_pre=200, max_per_img=50)
    test_cfg.rcnn.max_per_img = 20
    cfg.default_hooks.checkpoint.save_optimizer = False
    cfg.default_hooks.logger.interval = 1


def load_config(variant: Variant, data_root: Optional[str]) -> Config:
    """A benchmark config (mmkd is imported by the runs, not here), at ``data_root``."""
    cfg = Config.fromfile(osp.join(CONFIG_DIR, variant.config), import_custom_modules=False)
    if data_root:
        set_data_root(cfg, data_root)
    return cfg


def job_config(job: Job, args: argparse.Namespace, teacher_ckpt: Optional[str]) -> Config:
    """The config of one run: its seed, work dir, the teacher checkpoint; test at the end."""
    cfg = load_config(job.variant, args.data_root)
    cfg.work_dir = job.work_dir
    cfg.randomness = dict(seed=job.seed)
    cfg.resume = job.train  # continue from the last epoch checkpoint, if any
    cfg.load_from = job.load_from
    # No validation during training: the test split is evaluated once, after it.
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    if job.needs_teacher:
        cfg.model.teacher_ckpt = teacher_ckpt
    if args.student_epochs and job.name != 'teacher':
        set_epochs(cfg, args.student_epochs)
    if args.quick:
        make_quick(cfg)
    return cfg


# ----------------------------------------------------------------------------- planning


def fingerprint(job: Job, args: argparse.Namespace) -> dict:
    """What makes runs in one work dir comparable; a resumed run must match it."""
    out = dict(quick=args.quick, student_epochs=args.student_epochs)
    if job.name == 'teacher' or job.needs_teacher:
        out['teacher_ckpt'] = args.teacher_ckpt
    return out


def check_fingerprint(job: Job, args: argparse.Namespace) -> None:
    saved = read_json(osp.join(job.work_dir, 'job.json'))
    if saved and saved['fingerprint'] != fingerprint(job, args):
        raise SystemExit(f"{job.work_dir} holds a run made with {saved['fingerprint']}, this "
                         f'command asks for {fingerprint(job, args)}: give another --work-dir')


def teacher_job(args: argparse.Namespace) -> Job:
    work_dir = osp.join(args.work_dir, 'teacher')
    if args.teacher_ckpt:
        return Job('teacher', 0, work_dir, train=False, load_from=osp.abspath(args.teacher_ckpt))
    return Job('teacher', 0, work_dir)


def plan(args: argparse.Namespace) -> List[Job]:
    """Jobs in priority order: teacher, baselines, main distilled students, ablations."""
    teacher = teacher_job(args)
    jobs = [teacher]
    if args.stage == 'teacher':
        return jobs
    if args.stage == 'students' and teacher.train and job_result(teacher) is None:
        raise SystemExit(f'--stage students needs the teacher, not trained in {teacher.work_dir}'
                         ': run --stage teacher first, or give --teacher-ckpt')
    wanted = [name for name in VARIANTS if name in args.variants]
    order = ([n for n in wanted if VARIANTS[n].baseline is None],
             [n for n in wanted if VARIANTS[n].group in ('main', 'resolution')
              and VARIANTS[n].baseline is not None])
    for names in order:
        jobs += [student_job(args, n, s) for s in args.seeds for n in names]
    ablations = [n for n in wanted if VARIANTS[n].group == 'ablation']
    jobs += [student_job(args, n, s) for s in args.ablation_seeds for n in ablations]
    for job in jobs:
        check_fingerprint(job, args)
    return jobs


def student_job(args: argparse.Namespace, name: str, seed: int) -> Job:
    return Job(name, seed, osp.join(args.work_dir, name, f'seed{seed}'))


# ----------------------------------------------------------------------------- running


def child_env(parallel: int) -> dict:
    env = dict(os.environ)
    env.setdefault('OMP_NUM_THREADS', str(max(1, (os.cpu_count() or 1) // parallel)))
    env['PYTHONPATH'] = os.pathsep.join(p for p in (ROOT, env.get('PYTHONPATH')) if p)
    env.setdefault('PYTHONUNBUFFERED', '1')
    return env


def launcher(args: argparse.Namespace) -> Callable[[Job, Optional[str]], subprocess.Popen]:
    """Start a job: write its config and job.json, run this script with --run-job on it."""
    env = child_env(args.parallel)

    def launch(job: Job, teacher_ckpt: Optional[str]) -> subprocess.Popen:
        os.makedirs(job.work_dir, exist_ok=True)
        job_config(job, args, teacher_ckpt).dump(osp.join(job.work_dir, 'config.py'))
        write_json(osp.join(job.work_dir, 'job.json'),
                   dict(name=job.name, seed=job.seed, train=job.train, load_from=job.load_from,
                        teacher_ckpt=teacher_ckpt, fingerprint=fingerprint(job, args)))
        with open(osp.join(job.work_dir, 'run.log'), 'a') as log:
            return subprocess.Popen(
                [sys.executable, osp.abspath(__file__), '--run-job', job.work_dir],
                stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
                # Its own process group, to stop it with its data loader workers; the same
                # session, so nothing outlives a shell that is killed.
                preexec_fn=os.setpgrp)

    return launch


def stop(procs: Sequence[subprocess.Popen], grace_s: float = 30) -> None:
    """Stop the runs this script started (each with its data loader workers)."""
    for proc in procs:
        _signal_group(proc, signal.SIGTERM)
    end = time.monotonic() + grace_s
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            proc.wait()


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def _log_tail(job: Job, lines: int = 15) -> str:
    path = osp.join(job.work_dir, 'run.log')
    if not osp.isfile(path):
        return ''
    with open(path, errors='replace') as f:
        return ''.join(f.readlines()[-lines:])


class Scheduler:
    """Runs jobs in order, up to ``parallel`` at a time; distilled students start once the
    teacher has finished, the others beside it.

    Args:
        jobs (Sequence[Job]): In priority order, the teacher among them.
        parallel (int): Runs at a time.
        launch (callable): ``launch(job, teacher_ckpt) -> Popen``.
        poll_s (float): Seconds between looks at the running jobs.
    """

    def __init__(self, jobs: Sequence[Job], parallel: int, launch: Callable,
                 poll_s: float = 2.0) -> None:
        self.teacher = next(job for job in jobs if job.name == 'teacher')
        self.pending = [job for job in jobs if job_result(job) is None]
        self.running: Dict[Job, subprocess.Popen] = {}
        self.out: Dict[str, List[Job]] = dict(
            done=[job for job in jobs if job not in self.pending], failed=[], left=[])
        self.parallel, self.launch, self.poll_s = parallel, launch, poll_s
        self.start = time.monotonic()

    def run(self, time_limit: Optional[float] = None) -> Dict[str, List[Job]]:
        """Returns: dict of ``done``, ``failed`` and ``left`` (stopped or never started)."""
        try:
            while self.pending or self.running:
                self._reap()
                if time_limit is not None and time.monotonic() - self.start > time_limit:
                    self._log(f'time limit {time_limit:.0f} s: stopping {len(self.running)} '
                              'runs')
                    break
                self._start_ready()
                if self.pending and not self.running:
                    raise RuntimeError(f'{len(self.pending)} runs wait for an unplanned teacher')
                time.sleep(self.poll_s)
        finally:  # also on Ctrl-C or SIGTERM: no run is left behind
            stop(list(self.running.values()))
        self.out['left'] += list(self.running) + self.pending
        return self.out

    def _reap(self) -> None:
        for job, proc in list(self.running.items()):
            if proc.poll() is None:
                continue
            del self.running[job]
            result = job_result(job)
            if proc.returncode == 0 and result is not None:
                self.out['done'].append(job)
                self._log(f"done {job.label}: bbox mAP {result['bbox_mAP']:.1f}")
            else:
                self.out['failed'].append(job)
                self._log(f'FAILED {job.label} (exit {proc.returncode}), '
                          f'{job.work_dir}/run.log:\n{_log_tail(job)}')

    def _start_ready(self) -> None:
        teacher_result = job_result(self.teacher)
        for job in list(self.pending):
            if len(self.running) >= self.parallel:
                return
            if job.needs_teacher and self.teacher in self.out['failed']:
                self.pending.remove(job)
                self.out['failed'].append(job)
                self._log(f'skipped {job.label}: the teacher failed')
            elif not job.needs_teacher or teacher_result is not None:
                self.pending.remove(job)
                self._log(f'start {job.label} -> {job.work_dir}')
                ckpt = teacher_result['checkpoint'] if job.needs_teacher else None
                self.running[job] = self.launch(job, ckpt)

    def _log(self, msg: str) -> None:
        print(f'[{time.monotonic() - self.start:6.0f} s] {msg}', flush=True)


def run_jobs(jobs: Sequence[Job], parallel: int, launch: Callable,
             time_limit: Optional[float] = None, poll_s: float = 2.0) -> Dict[str, List[Job]]:
    """Run ``jobs`` with a :class:`Scheduler`, stopping all runs after ``time_limit`` s."""
    return Scheduler(jobs, parallel, launch, poll_s).run(time_limit)


# ----------------------------------------------------------------------------- one run


def run_job(work_dir: str) -> None:
    """Child process: train (resuming) and test one run, write its result.json."""
    from mmengine.runner import Runner

    import mmkd  # noqa: F401  (mmkd's modules, and checkpoint loading that works on torch>=2.6)

    job = read_json(osp.join(work_dir, 'job.json'))
    cfg = Config.fromfile(osp.join(work_dir, 'config.py'))
    runner = Runner.from_cfg(cfg)
    start = time.perf_counter()
    if job['train']:
        runner.train()
    train_s = time.perf_counter() - start
    metrics = runner.test()
    last = osp.join(work_dir, 'last_checkpoint')
    checkpoint = open(last).read().strip() if osp.isfile(last) else job['load_from']
    write_json(
        osp.join(work_dir, 'result.json'),
        dict(bbox_mAP=_percent(metrics.get('coco/bbox_mAP')),
             bbox_mAP_50=_percent(metrics.get('coco/bbox_mAP_50')),
             metrics={k: float(v) for k, v in metrics.items()},
             train_s=round(train_s, 1), test_s=round(time.perf_counter() - start - train_s, 1),
             checkpoint=checkpoint, teacher_ckpt=job['teacher_ckpt'], device=_device(),
             versions=_versions()))


def _percent(value: Optional[float]) -> float:
    # CocoMetric returns no mAP when a model detects nothing at all: that is 0 AP.
    return round(100 * float(value or 0.0), 2)


def _device() -> str:
    import torch
    return torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu'


def _versions() -> Dict[str, str]:
    import platform

    import mmcv
    import mmdet
    import mmengine
    import torch

    import mmkd
    return dict(python=platform.python_version(), torch=torch.__version__,
                mmcv=mmcv.__version__, mmengine=mmengine.__version__,
                mmdet=mmdet.__version__, mmkd=mmkd.__version__)


# ----------------------------------------------------------------------------- results


def mean_std(values: Sequence[float]) -> Tuple[float, Optional[float]]:
    """Mean and sample standard deviation (n - 1); the deviation is None for one value."""
    std = statistics.stdev(values) if len(values) > 1 else None
    return statistics.mean(values), std


def gap_closed(kd: float, baseline: float, teacher: Optional[float]) -> Optional[float]:
    """Share of the teacher-student gap closed, (kd - baseline) / (teacher - baseline)."""
    if teacher is None or teacher <= baseline:
        return None
    return (kd - baseline) / (teacher - baseline)


def _round(value: Optional[float], digits: int = 3) -> Optional[float]:
    return None if value is None else round(value, digits)


def summarize_variant(name: str, runs: Dict[int, dict]) -> dict:
    maps = [runs[s]['bbox_mAP'] for s in sorted(runs)]
    maps50 = [runs[s]['bbox_mAP_50'] for s in sorted(runs)]
    (map_mean, map_std), (map50_mean, map50_std) = mean_std(maps), mean_std(maps50)
    variant = VARIANTS[name]
    return dict(
        description=variant.description, group=variant.group, baseline=variant.baseline,
        config=f'benchmarks/configs/bccd/{variant.config}', seeds=sorted(runs), n=len(runs),
        per_seed={str(s): dict(bbox_mAP=r['bbox_mAP'], bbox_mAP_50=r['bbox_mAP_50'],
                               train_s=r.get('train_s')) for s, r in sorted(runs.items())},
        map_mean=_round(map_mean), map_std=_round(map_std), map50_mean=_round(map50_mean),
        map50_std=_round(map50_std))


def collect_variants(work_dir: str, teacher_map: Optional[float]) -> Dict[str, dict]:
    """Every finished run in ``work_dir``, summarised per variant; gains over the baseline."""
    variants = {}
    for name in VARIANTS:
        runs = {}
        for seed_dir in glob.glob(osp.join(work_dir, name, 'seed*')):
            result = read_json(osp.join(seed_dir, 'result.json'))
            if result is not None:
                runs[int(osp.basename(seed_dir)[len('seed'):])] = result
        if runs:
            variants[name] = summarize_variant(name, runs)
    for summary in variants.values():
        base = variants.get(summary['baseline'] or '')
        if base is not None:
            summary['gain'] = _round(summary['map_mean'] - base['map_mean'])
            summary['gap_closed'] = _round(
                gap_closed(summary['map_mean'], base['map_mean'], teacher_map))
    return variants


def comparison(variants: Dict[str, dict], baseline: str, kd: str) -> dict:
    """Headline numbers of a distilled variant against its baseline, issue 6's targets."""
    base, dist = variants.get(baseline), variants.get(kd)
    out = {}
    for prefix, summary in (('baseline', base), ('kd', dist)):
        for key in ('map_mean', 'map_std', 'map50_mean', 'map50_std'):
            out[f'{prefix}_{key}'] = summary[key] if summary else None
    if base and dist:
        gain, closed = dist['gain'], dist['gap_closed']
        spread = max(base['map_std'] or 0.0, dist['map_std'] or 0.0)
        out.update(gain=gain, gap_closed=closed,
                   seeds=sorted(set(base['seeds']) & set(dist['seeds'])))
        out['targets'] = dict(
            gain_at_least=GAIN_TARGET, gain_met=gain >= GAIN_TARGET,
            gain_above_spread=gain > spread, gap_closed_at_least=GAP_TARGET,
            gap_met=closed is not None and closed >= GAP_TARGET)
    return out


def accuracy_report(args: argparse.Namespace, summary: Dict[str, List[Job]]) -> dict:
    """The ``accuracy`` section of results.json, from every result in the work dir."""
    teacher = read_json(osp.join(args.work_dir, 'teacher', 'result.json'))
    teacher_map = teacher['bbox_mAP'] if teacher else None
    variants = collect_variants(args.work_dir, teacher_map)
    runs = sorted(glob.glob(osp.join(args.work_dir, '*', 'seed*', 'result.json')))
    meta = teacher or (read_json(runs[0]) if runs else {})  # device and versions
    epochs = args.student_epochs or load_config(VARIANTS['baseline'], None).train_cfg.max_epochs
    report = dict(
        dataset='BCCD (../shared/datasets/bccd), test split, COCO bbox mAP in %',
        quick=args.quick, setting=GAP_SETTING, student_epochs=epochs,
        date=datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'),
        device=meta.get('device'), versions=meta.get('versions'),
        command=command(args), complete=not (summary['failed'] or summary['left']),
        failed=[j.label for j in summary['failed']], left=[j.label for j in summary['left']],
        teacher_map=teacher_map, teacher_map50=teacher['bbox_mAP_50'] if teacher else None,
        teacher_ckpt=teacher.get('checkpoint') if teacher else None)
    main = comparison(variants, 'baseline', 'kd')
    report['seeds'] = main.pop('seeds', [])
    report.update(main)
    report['resolution'] = comparison(variants, 'baseline_320', 'kd_halfres')
    report['variants'] = variants
    return report


def command(args: argparse.Namespace, **override) -> str:
    """The command line of this run; with ``override``, the one for a single row."""
    if not override:
        return shlex.join(['python', SCRIPT] + args.argv)
    parts = ['python', SCRIPT]
    if args.quick:
        parts.append('--quick')
    if args.student_epochs:
        parts += ['--student-epochs', str(args.student_epochs)]
    if args.teacher_ckpt:
        parts += ['--teacher-ckpt', args.teacher_ckpt]
    for key, value in override.items():
        parts.append('--' + key.replace('_', '-'))
        parts += [str(v) for v in value] if isinstance(value, list) else [str(value)]
    return shlex.join(parts)


def write_results(path: str, report: dict) -> None:
    """Replace the ``accuracy`` section of ``path``, keeping the others (``overhead``)."""
    results = read_json(path) or {}
    results['accuracy'] = report
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    write_json(path, results)


def _fmt(mean: Optional[float], std: Optional[float]) -> str:
    if mean is None:
        return '-'
    return f'{mean:.1f}' if std is None else f'{mean:.1f} ± {std:.1f}'


def _signed(value: Optional[float], percent: bool = False) -> str:
    if value is None:
        return '-'
    return f'{100 * value:.0f}%' if percent else f'{value:+.1f}'


def markdown(report: dict, args: argparse.Namespace) -> str:
    """The accuracy table for RESULTS.md."""
    versions = ', '.join(f'{k} {v}' for k, v in (report['versions'] or {}).items())
    lines = ['## Accuracy on BCCD', '']
    if report['quick']:
        lines += ['**Quick run: a pipeline check on a few tiny images; the numbers mean nothing.**',
                  '']
    lines += [
        f"Date: {report['date']}. Device: {report['device']}. Versions: {versions}.",
        f"Command: `{report['command']}`.",
        f"Setting: {report['setting']}. mAP: COCO bbox mAP on the test split, mean ± sample "
        'standard deviation over seeds; gap closed: (kd - baseline) / (teacher - baseline).',
        '', '| variant | what | seeds | bbox mAP | mAP@0.5 | vs baseline | gap closed | command |',
        '|---|---|---|---|---|---|---|---|']
    if report['teacher_map'] is not None:
        lines.append(f"| teacher | {TEACHER.description} | 0 | {report['teacher_map']:.1f} | "
                     f"{report['teacher_map50']:.1f} | | | "
                     f"`{command(args, stage='teacher')}` |")
    for name, v in report['variants'].items():
        seeds = ' '.join(str(s) for s in v['seeds'])
        lines.append(
            f"| {name} | {v['description']} | {seeds} | {_fmt(v['map_mean'], v['map_std'])} "
            f"| {_fmt(v['map50_mean'], v['map50_std'])} | {_signed(v.get('gain'))} | "
            f"{_signed(v.get('gap_closed'), percent=True)} | "
            f"`{command(args, variants=name, seeds=v['seeds'])}` |")
    if not report['complete']:
        lines += ['', f"Incomplete: failed {report['failed']}, not finished {report['left']}."]
    return '\n'.join(lines) + '\n'


def write_markdown(path: str, section: str) -> None:
    """Replace the accuracy section of ``path`` (between markers), keeping the rest."""
    text = open(path).read() if osp.isfile(path) else '# Benchmark results\n\n'
    block = f'{MD_BEGIN}\n{section}{MD_END}\n'
    if MD_BEGIN in text and MD_END in text:
        head, rest = text.split(MD_BEGIN, 1)
        text = head + block + rest.split(MD_END, 1)[1].lstrip('\n')
    else:
        text = text.rstrip('\n') + '\n\n' + block
    with open(path, 'w') as f:
        f.write(text)


def write_archive(path: str, work_dir: str) -> None:
    """The small files of every run (configs, results, logs; no checkpoints), to carry away."""
    names = ('config.py', 'job.json', 'result.json', 'run.log')
    # Names relative to the repository (extract there: `tar xzf`), else to the work dir's parent.
    base = ROOT if work_dir.startswith(ROOT + os.sep) else osp.dirname(work_dir)
    with tarfile.open(path, 'w:gz') as tar:
        for job_file in sorted(glob.glob(osp.join(work_dir, '**', 'job.json'), recursive=True)):
            run_dir = osp.dirname(job_file)
            for name in names:
                full = osp.join(run_dir, name)
                if osp.isfile(full):
                    tar.add(full, arcname=osp.relpath(full, base))


# ----------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--stage', choices=['all', 'teacher', 'students'], default='all',
                        help='teacher: train (or evaluate) the teacher only; students: the '
                        'students only, the teacher must be done; all: both, students '
                        'that need no teacher train beside it')
    parser.add_argument('--variants', nargs='+', choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    parser.add_argument('--ablation-seeds', nargs='+', type=int,
                        help='seeds of the ablation variants (default: --seeds)')
    parser.add_argument('--teacher-ckpt', help='use this teacher instead of training one')
    parser.add_argument('--data-root', help='BCCD root (default: ../shared/datasets/bccd '
                        'beside the repository, or $MMKD_BCCD_ROOT)')
    parser.add_argument('--work-dir', help='default: work_dirs/bccd_accuracy[_quick]')
    parser.add_argument('--parallel', type=int, default=1, help='runs at a time')
    parser.add_argument('--time-limit', type=float, help='stop all runs after this many '
                        f'seconds, exit status {EXIT_INCOMPLETE}; the same command resumes')
    parser.add_argument('--student-epochs', type=int, help='student schedule length (default '
                        '12 as in the configs; LR steps scale with it)')
    parser.add_argument('--quick', action='store_true',
                        help=f'1 epoch on {QUICK_IMAGES} images at {QUICK_SCALE}x size (CPU)')
    parser.add_argument('--out', help='results JSON (default: benchmarks/results.json; '
                        'with --quick: in the work dir)')
    parser.add_argument('--markdown', help='results table (default: benchmarks/RESULTS.md; '
                        'with --quick: in the work dir)')
    parser.add_argument('--archive', help='also write configs, results and logs to this .tgz')
    parser.add_argument('--run-job', metavar='WORK_DIR', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.argv = list(argv)
    if args.parallel < 1:
        parser.error('--parallel must be >= 1')
    args.ablation_seeds = args.ablation_seeds or args.seeds
    quick = '_quick' if args.quick else ''
    args.work_dir = osp.abspath(args.work_dir or osp.join(ROOT, 'work_dirs',
                                                          f'bccd_accuracy{quick}'))
    where = args.work_dir if args.quick else osp.join(ROOT, 'benchmarks')
    args.out = args.out or osp.join(where, 'results.json')
    args.markdown = args.markdown or osp.join(where, 'RESULTS.md')
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.run_job:
        run_job(args.run_job)
        return 0
    check_data_root(load_config(TEACHER, args.data_root))
    if args.teacher_ckpt and not osp.isfile(args.teacher_ckpt):
        raise SystemExit(f"teacher_ckpt '{args.teacher_ckpt}' not found")
    jobs = plan(args)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))  # stop the runs
    summary = run_jobs(jobs, args.parallel, launcher(args), args.time_limit,
                       poll_s=0.5 if args.quick else 5.0)
    report = accuracy_report(args, summary)
    write_results(args.out, report)
    write_markdown(args.markdown, markdown(report, args))
    if args.archive:
        write_archive(args.archive, args.work_dir)
    print(markdown(report, args))
    print(f'results: {args.out}, table: {args.markdown}')
    if summary['failed']:
        return 1
    return EXIT_INCOMPLETE if summary['left'] else 0


if __name__ == '__main__':
    sys.exit(main())
