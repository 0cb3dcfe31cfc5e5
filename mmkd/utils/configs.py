"""The configs mmkd ships, by name, for configs outside the repository to inherit."""
import os.path as osp

_PACKAGE = osp.dirname(osp.dirname(osp.abspath(__file__)))
# The repository's configs/ travel as package data in mmkd/.mim/configs, as mmdet's do: a
# symlink in the repository, the files themselves in a wheel. A checkout without symlinks
# (Windows without core.symlinks) uses the repository's folder.
CONFIG_ROOT = osp.join(_PACKAGE, '.mim', 'configs')
if not osp.isdir(CONFIG_ROOT):
    CONFIG_ROOT = osp.join(osp.dirname(_PACKAGE), 'configs')


def config_path(name: str) -> str:
    """Absolute path of a config mmkd ships, for a ``_base_`` outside the repository.

    mmengine 0.10 resolves ``pkg::`` config names only for its own list of OpenMMLab packages
    (``mmengine.config.utils.MODULE2PACKAGE``): ``mmkd::`` is refused, and added there it
    would give the block's dicts ``_scope_='mmkd'``, a registry mmkd does not have. mmengine
    evaluates the ``_base_`` line as a Python expression before anything else in the config,
    so a user's config names mmkd's configs through this function (the import also registers
    mmkd's modules), whatever tool reads it::

        _base_ = ['mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py',
                  __import__('mmkd').config_path('_base_/kd_chen2017.py')]
        model = dict(**_base_.kd_chen2017, teacher_config='...', teacher_ckpt='...')

    Args:
        name (str): Path under the repository's ``configs/``, e.g. ``'_base_/kd_chen2017.py'``
            or ``'kd_faster_rcnn_r50_r18.py'``.

    Returns:
        str: The absolute path of the installed file.

    Raises:
        FileNotFoundError: mmkd ships no config of that name.
    """
    path = osp.join(CONFIG_ROOT, name)
    if osp.isabs(name) or not osp.isfile(path):
        raise FileNotFoundError(
            f'mmkd ships no config {name!r} (looked in {CONFIG_ROOT}): name a file under the '
            "repository's configs/, e.g. '_base_/kd_chen2017.py'")
    return path
