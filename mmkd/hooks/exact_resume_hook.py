# Copyright (c) mmkd contributors. All rights reserved.
"""Make a resumed training repeat the uninterrupted one bit for bit."""
import random
from typing import Callable, Iterator, Optional

import numpy as np
import torch
from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop, Runner
from torch.utils.data import get_worker_info

# Stream tags: the batch's loading in the training process, the model's step, a data
# loading worker (plus its id).
DATA, MODEL, WORKER = 0, 1, 2
_UINT64 = (1 << 64) - 1


def reseed(*key: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch (CPU and every
    accelerator) from ``key``, mixed by NumPy's ``SeedSequence``."""
    words = np.random.SeedSequence([k & _UINT64 for k in key]).generate_state(6)
    torch.manual_seed(int(words[0]) << 32 | int(words[1]))
    random.seed(int(words[2]) << 32 | int(words[3]))
    np.random.seed(words[4:])


@HOOKS.register_module()
class ExactResumeHook(Hook):
    """Reseed the random generators at each iteration, so that a run stopped at a checkpoint
    and resumed draws exactly what the uninterrupted run drew.

    Python's ``random``, NumPy's and torch's global generators (random flips, the RPN and
    R-CNN samplers) restart from ``(seed, rank, iteration)`` before each batch is loaded and
    again before the model's step, so nothing between a checkpoint and the next batch
    (validation, the teacher check, rebuilding on resume) shifts them, and each DDP rank
    keeps its own stream although mmengine saves on rank 0 only. Data loading workers: in an
    iteration-based loop mmengine's resume replays the trained batches through workers it
    seeds alike; in an epoch-based loop each worker reseeds at its first sample of every
    epoch from ``(seed, rank, epoch, worker)``, persistent workers included. Each checkpoint
    records the seed, world size and workers (``meta['exact_resume']``); a resume that
    cannot be exact says why in a warning. Details and limits: ``docs/exact_resume.md``.
    """

    priority = 'LOWEST'  # after the checkpoint is saved, right before the next batch

    def __init__(self) -> None:
        self._epoch: Optional[torch.Tensor] = None  # shared with the workers

    def before_train(self, runner: Runner) -> None:
        loop = runner.train_loop
        if isinstance(loop, IterBasedTrainLoop):
            loop.dataloader_iterator = _ReseedBeforeNext(
                loop.dataloader_iterator, lambda: reseed(runner.seed, runner.rank, runner.iter,
                                                         DATA))
        elif not isinstance(loop, EpochBasedTrainLoop):
            raise TypeError('ExactResumeHook knows the batches of EpochBasedTrainLoop and '
                            f'IterBasedTrainLoop, got {type(loop).__name__}: remove the hook '
                            'from custom_hooks')
        elif loop.dataloader.num_workers > 0:
            self._epoch = torch.zeros((), dtype=torch.int64).share_memory_()
            wrapped = _wrap_pipelines(loop.dataloader.dataset, self._epoch, runner.seed,
                                      runner.rank)
            if not wrapped:
                runner.logger.warning(
                    'ExactResumeHook found no pipeline in the training dataset '
                    f'({type(loop.dataloader.dataset).__name__}): the data loading workers '
                    'are not reseeded each epoch, and a resumed run may draw other '
                    'augmentations')

    def before_train_epoch(self, runner: Runner) -> None:
        if self._epoch is not None:
            self._epoch.fill_(runner.epoch)
        reseed(runner.seed, runner.rank, runner.iter, DATA)

    def before_train_iter(self, runner: Runner, batch_idx: int, data_batch=None) -> None:
        # Creating the loader's iterator draws a seed, and persistent workers create it once
        # per process: the model's draws must not follow those of loading.
        reseed(runner.seed, runner.rank, runner.iter, MODEL)

    def after_train_iter(self, runner: Runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        if isinstance(runner.train_loop, EpochBasedTrainLoop):  # the next batch comes now
            reseed(runner.seed, runner.rank, runner.iter + 1, DATA)

    def before_save_checkpoint(self, runner: Runner, checkpoint: dict) -> None:
        checkpoint.setdefault('meta', {})['exact_resume'] = _setting(runner)

    def after_load_checkpoint(self, runner: Runner, checkpoint: dict) -> None:
        if not runner.cfg.get('resume', False):
            return
        meta = checkpoint.get('meta', {})
        saved, now = meta.get('exact_resume'), _setting(runner)
        problems = []
        if saved is None:
            problems.append('the checkpoint was saved without ExactResumeHook')
        elif saved['seed'] != now['seed']:
            # mmengine takes the checkpoint's seed, but after building the training loader
            problems.append(
                f"the training data are loaded with seed {now['seed']}, the checkpoint's run "
                f"used {saved['seed']}: set randomness=dict(seed={saved['seed']}) "
                f"(--cfg-options randomness.seed={saved['seed']})")
        if saved is not None:
            problems += [f'{key} {saved.get(key)} then, {now[key]} now'
                         for key in ('world_size', 'num_workers') if saved.get(key) != now[key]]
        per_epoch = len(runner.train_dataloader)
        if (isinstance(runner.train_loop, EpochBasedTrainLoop)
                and meta.get('iter') != meta.get('epoch', 0) * per_epoch):
            problems.append(
                f"the checkpoint was saved at iteration {meta.get('iter')}, inside epoch "
                f"{meta.get('epoch', 0) + 1} ({per_epoch} iterations each), and mmengine "
                'restarts that epoch: save at epoch ends (CheckpointHook by_epoch=True)')
        if problems:
            runner.logger.warning(
                'ExactResumeHook: this run will not repeat the uninterrupted one exactly: ' +
                '; '.join(problems) + '.')


def _setting(runner: Runner) -> dict:
    return dict(seed=runner.seed, world_size=runner.world_size,
                num_workers=runner.train_dataloader.num_workers)


class _ReseedBeforeNext:
    """The iteration-based loop's iterator over batches, reseeding before each batch."""

    def __init__(self, iterator: Iterator, reseed_now: Callable[[], None]) -> None:
        self._iterator = iterator
        self._reseed_now = reseed_now

    def __iter__(self) -> '_ReseedBeforeNext':
        return self

    def __next__(self):
        self._reseed_now()
        return next(self._iterator)


class _EpochSeededPipeline:
    """A dataset's pipeline that, in a data loading worker, reseeds at the first sample of
    each epoch (read from ``epoch``, a tensor in shared memory)."""

    def __init__(self, pipeline: Callable, epoch: torch.Tensor, seed: int, rank: int) -> None:
        self.pipeline = pipeline
        self.epoch = epoch
        self.seed = seed
        self.rank = rank
        self._seen = None

    def __call__(self, results: dict):
        worker = get_worker_info()
        epoch = int(self.epoch)
        if worker is not None and epoch != self._seen:
            reseed(self.seed, self.rank, epoch, WORKER + worker.id)
            self._seen = epoch
        return self.pipeline(results)

    def __getattr__(self, name: str):
        if name == 'pipeline':  # not set yet, while unpickling
            raise AttributeError(name)
        return getattr(self.pipeline, name)


def _wrap_pipelines(dataset, epoch: torch.Tensor, seed: int, rank: int) -> int:
    """Wrap every callable ``pipeline`` in ``dataset`` and the datasets it wraps; return how
    many."""
    count = 0
    pipeline = getattr(dataset, 'pipeline', None)
    if callable(pipeline) and not isinstance(pipeline, _EpochSeededPipeline):
        dataset.pipeline = _EpochSeededPipeline(pipeline, epoch, seed, rank)
        count += 1
    inner = getattr(dataset, 'datasets', None) or [getattr(dataset, 'dataset', None)]
    return count + sum(_wrap_pipelines(d, epoch, seed, rank) for d in inner if d is not None)
