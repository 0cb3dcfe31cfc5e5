# Copyright (c) mmkd contributors. All rights reserved.
"""Record in every checkpoint which teacher taught the student; check it on ``--resume``."""
import hashlib
from typing import Optional

from mmdet.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.runner import Runner

from mmkd.utils.checkpoint import local_checkpoint_file

META_KEY = 'teacher'


def sha256_of(path: str) -> str:
    """Hex SHA-256 of the file at ``path``, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def describe_teacher(meta: Optional[dict]) -> str:
    """One line naming the teacher recorded in a checkpoint's ``meta``."""
    teacher = (meta or {}).get(META_KEY)
    if not teacher:
        return ('no teacher recorded (a plain detector, or a checkpoint saved without '
                'TeacherProvenanceHook)')
    sha256 = teacher.get('sha256') or f"not recorded: {teacher.get('note')}"
    return (f"teacher_config {teacher['config']}, teacher_ckpt {teacher['checkpoint']}, "
            f'SHA-256 {sha256}')


def teacher_provenance(teacher_config, teacher_ckpt: Optional[str]) -> dict:
    """``config`` (the name given), ``checkpoint``, ``sha256`` of the checkpoint's local
    file (for a URL, the downloaded copy), and a ``note`` where there is no hash."""
    config = str(teacher_config) if not isinstance(teacher_config, dict) else '(inline dict)'
    found = dict(config=config, checkpoint=teacher_ckpt, sha256=None)
    if teacher_ckpt is None:
        found['note'] = 'no teacher_ckpt, the teacher was randomly initialised'
        return found
    path = local_checkpoint_file(teacher_ckpt)
    if path is None:
        found['note'] = f'no local copy of {teacher_ckpt} to hash'
    else:
        found['sha256'] = sha256_of(path)
    return found


@HOOKS.register_module()
class TeacherProvenanceHook(Hook):
    """Write the teacher's config name and the SHA-256 of its checkpoint into every
    checkpoint's ``meta['teacher']``, and compare them on ``--resume``.

    The name alone does not identify a teacher: a file replaced at the same path, or a
    student shipped by ``tools/export_student.py`` (which keeps ``meta``), would carry no
    trace of the weights that taught it. The checkpoint is hashed once per run (for a URL,
    the copy downloaded when the teacher was built; without one the URL is recorded and the
    note says so). Every loaded checkpoint's teacher is logged (``tools/test.py`` adds the
    hook to print it). On ``--resume`` with a teacher whose hash differs from the recorded
    one, training stops naming both, or, with ``on_change='warn'``, goes on with a warning.

    Args:
        on_change (str): ``'error'`` or ``'warn'``: what a resumed run does when its
            teacher's hash is not the recorded one. Defaults to ``'error'``.
    """

    priority = 'NORMAL'

    def __init__(self, on_change: str = 'error') -> None:
        if on_change not in ('error', 'warn'):
            raise ValueError(f"TeacherProvenanceHook: on_change must be 'error' or 'warn', "
                             f'got {on_change!r}')
        self.on_change = on_change
        self._teacher: Optional[dict] = None

    def teacher(self, runner: Runner) -> Optional[dict]:
        """This run's teacher (None without ``model.teacher_config``), hashed once."""
        model = runner.cfg.get('model') or {}
        if 'teacher_config' not in model:
            return None
        if self._teacher is None:
            self._teacher = teacher_provenance(model['teacher_config'],
                                               model.get('teacher_ckpt'))
            if self._teacher['sha256'] is None:
                runner.logger.warning('TeacherProvenanceHook: the teacher\'s SHA-256 is not '
                                      f"recorded: {self._teacher['note']}")
        return self._teacher

    def before_train(self, runner: Runner) -> None:
        self.teacher(runner)  # hash the file the teacher was just built from

    def before_save_checkpoint(self, runner: Runner, checkpoint: dict) -> None:
        teacher = self.teacher(runner)
        if teacher is not None:
            checkpoint.setdefault('meta', {})[META_KEY] = dict(teacher)

    def after_load_checkpoint(self, runner: Runner, checkpoint: dict) -> None:
        recorded = checkpoint.get('meta', {}).get(META_KEY)
        runner.logger.info('TeacherProvenanceHook: the loaded checkpoint was taught by: ' +
                           describe_teacher(checkpoint.get('meta')))
        if not runner.cfg.get('resume', False) or not recorded:
            return
        now = self.teacher(runner)
        if now is None or now['sha256'] == recorded.get('sha256'):
            return
        if now['sha256'] is None or recorded.get('sha256') is None:
            runner.logger.warning(
                'TeacherProvenanceHook: cannot tell whether this run\'s teacher is the one '
                f'the checkpoint was trained with: now {describe_teacher({META_KEY: now})}; '
                f'recorded {describe_teacher({META_KEY: recorded})}')
            return
        message = (
            f"TeacherProvenanceHook: resuming with teacher_ckpt {now['checkpoint']} (SHA-256 "
            f"{now['sha256']}), but the checkpoint was trained with teacher_ckpt "
            f"{recorded['checkpoint']} (SHA-256 {recorded['sha256']}): a different teacher "
            'would teach the rest of the run.')
        if self.on_change == 'warn':
            runner.logger.warning(message + ' Going on (on_change=\'warn\').')
            return
        raise RuntimeError(
            message + ' Resume with the teacher the run started with; to go on with this '
            f"one, set the hook's on_change='warn' ({_option_hint(runner)}).")


def _option_hint(runner: Runner) -> str:
    for i, hook in enumerate(runner.cfg.get('custom_hooks') or []):
        if isinstance(hook, dict) and hook.get('type') in ('TeacherProvenanceHook',
                                                           TeacherProvenanceHook):
            return f'--cfg-options custom_hooks.{i}.on_change=warn'
    return "dict(type='TeacherProvenanceHook', on_change='warn') in custom_hooks"
