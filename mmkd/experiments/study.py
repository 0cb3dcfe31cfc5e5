# Copyright (c) mmkd contributors. All rights reserved.
"""Run a study: trainings (a teacher, students per seed), each tested, cached and resumable.

The demo (``tools/demo.py``) and the benchmarks (``benchmarks/bccd_accuracy.py``) describe
*what* to run as a list of :class:`Run`; :func:`run_study` does the rest:

- Each run trains and tests in its own process (``python -m mmkd.experiments.train_test``,
  through mmengine's ``Runner`` as ``tools/train.py`` and ``tools/test.py`` do). Teachers
  run first, one at a time with every CPU thread; then the other runs, ``parallel`` at a
  time (several share a machine), each with ``cpu_count // parallel`` threads.
- A finished run is reused when its key still matches. The key covers everything its
  result depends on: the resolved config (after the study's own changes), the data files
  it reads, the result of its teacher, and mmkd's code when the config uses an mmkd
  class. Anything else starts the run again from scratch; an unfinished run with the same
  key resumes from its last checkpoint.
- ``time_limit`` stops the runs still going (exit status :data:`EXIT_INCOMPLETE` from the
  scripts); the same command goes on where it stopped.
"""
import concurrent.futures
import hashlib
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, List, Optional

from mmengine.config import Config

from .records import read_json, write_json

MMKD_DIR = osp.dirname(osp.dirname(osp.abspath(__file__)))
EXIT_INCOMPLETE = 3


@dataclass
class Run:
    """One training and its test.

    Args:
        name (str): Variant name, e.g. ``'teacher'``, ``'baseline'``, ``'kd'``.
        config (str): Config file.
        seed (int): ``randomness.seed``. Defaults to 0.
        teacher (str, optional): Label of the run whose checkpoint becomes
            ``model.teacher_ckpt``. Defaults to None.
        options (dict): ``--cfg-options`` style overrides. Defaults to none.
    """
    name: str
    config: str
    seed: int = 0
    teacher: Optional[str] = None
    options: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f'{self.name}/seed{self.seed}'


class RunFailed(RuntimeError):
    """A run exited with an error; its log is named in the message."""


class RunStopped(RuntimeError):
    """A run was stopped by the time limit; the next call resumes it."""


def run_study(runs: List[Run],
              work_dir: str,
              prepare: Optional[Callable[[Config, Run], None]] = None,
              parallel: int = 1,
              time_limit: Optional[float] = None,
              log: Callable[[str], None] = print) -> Dict[str, dict]:
    """Run (or reuse) every run; return the results of those that finished, by label.

    Args:
        runs (list[Run]): A teacher must come before the runs that name it. Teachers
            run first, one at a time with every core; then the others.
        work_dir (str): One folder per run: ``<work_dir>/<name>/seed<seed>``.
        prepare (callable, optional): ``prepare(cfg, run)`` changes a run's config in
            place before it is keyed (data root, schedule of a quick run...).
        parallel (int): Runs at a time. Defaults to 1.
        time_limit (float, optional): Seconds after which unfinished runs are stopped.
        log (callable): Progress messages. Defaults to ``print``.

    Returns:
        dict[str, dict]: ``{label: result}``, each with ``status``: ``'done'`` (plus what
        :func:`mmkd.experiments.train_test.train_and_test` recorded and ``work_dir``),
        ``'stopped'`` (by the time limit) or ``'failed'`` (plus ``error``).
    """
    deadline = None if time_limit is None else time.monotonic() + time_limit
    labels = [run.label for run in runs]
    for i, run in enumerate(runs):
        if run.teacher is not None and run.teacher not in labels[:i]:
            raise ValueError(f'{run.label}: its teacher {run.teacher!r} is not a run listed '
                             'before it')
    # Teachers first, one at a time with every core: their students wait for them anyway,
    # and a run beside a teacher would only slow it down.
    teachers = {run.teacher for run in runs if run.teacher is not None}
    results = _run_all([r for r in runs if r.label in teachers], {}, work_dir, prepare, 1,
                       deadline, log)
    results.update(_run_all([r for r in runs if r.label not in teachers], results, work_dir,
                            prepare, parallel, deadline, log))
    return {label: results[label] for label in labels}


def _run_all(runs: List[Run], upstream: Dict[str, dict], work_dir: str,
             prepare: Optional[Callable], parallel: int, deadline: Optional[float],
             log: Callable[[str], None]) -> Dict[str, dict]:
    """Run ``runs``, ``parallel`` at a time; their teachers' results are in ``upstream``."""
    results, jobs = {}, []
    # Configs are read and keyed here, one after the other: mmengine's config loading is
    # not thread-safe (two threads importing pkg_resources at once fail).
    for run in runs:
        teacher = upstream.get(run.teacher)
        if run.teacher is not None and teacher['status'] != 'done':
            results[run.label] = dict(
                status='failed', error=f"its teacher {run.teacher} did not finish "
                f"({teacher['status']})")
            continue
        cfg = prepare_config(run, run_dir(work_dir, run), teacher)
        if prepare is not None:
            prepare(cfg, run)
        jobs.append((run, cfg, cache_key(cfg, teacher)))
    env = _child_env(parallel)
    with concurrent.futures.ThreadPoolExecutor(max(1, parallel)) as pool:
        futures = {run.label: pool.submit(_run_cached, run, cfg, key, env, deadline, log)
                   for run, cfg, key in jobs}
    for label, future in futures.items():
        try:
            results[label] = dict(future.result(), status='done')
        except RunStopped:
            results[label] = dict(status='stopped')
        except Exception as e:  # noqa: BLE001  (reported per run, the others went on)
            results[label] = dict(status='failed', error=str(e))
    return results


def run_dir(work_dir: str, run: Run) -> str:
    return osp.join(work_dir, run.name, f'seed{run.seed}')


def _run_cached(run: Run, cfg: Config, key: str, env: dict, deadline: Optional[float],
                log: Callable[[str], None]) -> dict:
    """The run's result: reused if its key matches, else trained (resumed) and tested."""
    folder = cfg.work_dir
    result = read_json(osp.join(folder, 'result.json'))
    if result is not None and result.get('key') == key:
        log(f'[study] {run.label}: done before, reused ({folder})')
        return dict(result, work_dir=folder)
    job = read_json(osp.join(folder, 'job.json'))
    if job is None or job.get('key') != key:  # new, or its config, data or code changed
        shutil.rmtree(folder, ignore_errors=True)
        job = None
    os.makedirs(folder, exist_ok=True)
    cfg.dump(osp.join(folder, 'config.py'))
    write_json(osp.join(folder, 'job.json'), dict(key=key, label=run.label))
    log(f'[study] {run.label}: {"resume" if job else "start"} -> {folder}')
    start = time.monotonic()
    timeout = None if deadline is None else deadline - start
    if timeout is not None and timeout <= 0:
        raise RunStopped(run.label)
    try:
        returncode = execute(folder, env, timeout)
    except subprocess.TimeoutExpired:
        log(f'[study] {run.label}: stopped by the time limit; run again to resume')
        raise RunStopped(run.label) from None
    result = read_json(osp.join(folder, 'result.json'))
    if returncode != 0 or result is None:
        tail = _tail(osp.join(folder, 'run.log'))
        log(f'[study] {run.label}: FAILED (exit {returncode}), {folder}/run.log:\n{tail}')
        raise RunFailed(f'exit {returncode}, see {folder}/run.log')
    log(f"[study] {run.label}: mAP {result['mAP']:.1f} in {time.monotonic() - start:.0f} s")
    return dict(result, work_dir=folder)


def execute(folder: str, env: dict, timeout: Optional[float]) -> int:
    """Train and test the run in ``folder`` in a child process; its exit status.

    Raises:
        subprocess.TimeoutExpired: After ``timeout`` seconds; the child is killed.
    """
    with open(osp.join(folder, 'run.log'), 'a') as out:
        return subprocess.run([sys.executable, '-m', 'mmkd.experiments.train_test', folder],
                              stdout=out, stderr=subprocess.STDOUT, env=env,
                              timeout=timeout).returncode


def prepare_config(run: Run, folder: str, teacher: Optional[dict] = None) -> Config:
    """The run's config: its options, seed and work dir, the teacher's checkpoint, one
    checkpoint per epoch (or at the end) to resume from, no validation while training."""
    cfg = Config.fromfile(run.config)
    if run.options:
        cfg.merge_from_dict(run.options)
    cfg.work_dir = osp.abspath(folder)
    cfg.randomness = dict(seed=run.seed)
    cfg.resume = True  # from the last checkpoint in work_dir, if there is one
    cfg.load_from = None
    if teacher is not None:
        cfg.model.teacher_ckpt = teacher['checkpoint']
    # the test split is evaluated once, after training, by train_test: no validation
    # during training, but the val loop stays for hooks that use it (TeacherCheckHook)
    loop = cfg.train_cfg
    loop.val_begin = (loop.get('max_epochs') or loop.get('max_iters')) + 1
    return cfg


def cache_key(cfg: Config, teacher: Optional[dict] = None) -> str:
    """A hash of what a run's result depends on: resolved config, data, teacher, code."""
    parts = dict(config=cfg.to_dict(), data=data_fingerprint(cfg),
                 teacher=None if teacher is None else teacher['key'])
    if uses_mmkd(cfg):
        parts['mmkd'] = code_fingerprint()
    return _hash(parts)


def data_fingerprint(cfg: Config) -> str:
    """Hash of the annotation files and the image folders (names and sizes) of every
    dataset in ``cfg``."""
    parts = []
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset = (cfg.get(key) or {}).get('dataset')
        if not dataset or 'ann_file' not in dataset:
            continue
        root = dataset.get('data_root', '')
        ann_file = osp.join(root, dataset.ann_file)
        img_dir = osp.join(root, (dataset.get('data_prefix') or {}).get('img', ''))
        parts.append((key, _file_hash(ann_file), _listing(img_dir)))
    return _hash(parts)


def code_fingerprint() -> str:
    """Hash of mmkd's source, except this experiment runner (results depend on the config
    it writes, which is keyed itself)."""
    files = sorted(
        osp.join(d, f) for d, _, names in os.walk(MMKD_DIR) for f in names
        if f.endswith('.py') and not d.startswith(osp.join(MMKD_DIR, 'experiments')))
    return _hash([(osp.relpath(f, MMKD_DIR), _file_hash(f)) for f in files])


def uses_mmkd(cfg: Config) -> bool:
    """Whether a ``type`` in ``cfg`` names a class that mmkd registers."""
    import mmdet.registry as registries

    import mmkd  # noqa: F401  (registers mmkd's classes)
    regs = [getattr(registries, name) for name in ('MODELS', 'HOOKS', 'DATASETS',
                                                   'TRANSFORMS', 'METRICS')]
    for type_name in _types(cfg.to_dict()):
        for registry in regs:
            obj = registry.get(type_name) if isinstance(type_name, str) else type_name
            if obj is not None and getattr(obj, '__module__', '').startswith('mmkd'):
                return True
    return False


def _types(node) -> Iterable:
    if isinstance(node, dict):
        if 'type' in node:
            yield node['type']
        for value in node.values():
            yield from _types(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from _types(value)


def _child_env(parallel: int) -> dict:
    env = dict(os.environ)
    env.setdefault('OMP_NUM_THREADS', str(max(1, (os.cpu_count() or 1) // max(1, parallel))))
    env.setdefault('PYTHONUNBUFFERED', '1')
    # the child imports this checkout's mmkd, installed or not
    env['PYTHONPATH'] = os.pathsep.join(
        p for p in (osp.dirname(MMKD_DIR), env.get('PYTHONPATH')) if p)
    return env


def _file_hash(path: str) -> Optional[str]:
    if not osp.isfile(path):
        return None
    with open(path, 'rb') as f:
        return hashlib.sha1(f.read()).hexdigest()


def _listing(folder: str) -> List[tuple]:
    if not osp.isdir(folder):
        return []
    return sorted((e.name, e.stat().st_size) for e in os.scandir(folder) if e.is_file())


def _hash(obj) -> str:
    text = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def _tail(path: str, lines: int = 20) -> str:
    if not osp.isfile(path):
        return ''
    with open(path, errors='replace') as f:
        return ''.join(f.readlines()[-lines:])
