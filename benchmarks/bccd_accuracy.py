"""What distillation buys on real data: BCCD, teacher, student baselines and distilled students
over seeds, and the paper's per-term ablation (Table 4).

    python benchmarks/bccd_accuracy.py --parallel 2           # the CPU study, 60 to 76 min
    python benchmarks/bccd_accuracy.py --parallel 2 --seeds 0 1 2 3 4   # the main record
    python benchmarks/bccd_accuracy.py --parallel 2 --variants baseline kd kd_inherit_only \
        kd_soft_cls kd_reg kd_hint kd_paper       # FULL_VARIANTS: inherited_heads_and_paper_method
    python benchmarks/bccd_accuracy.py --parallel 2 --variants baseline kd kd_cascade \
        baseline_narrow kd_narrow --section accuracy_pairs      # PAIR_VARIANTS
    python benchmarks/bccd_accuracy.py --parallel 2 --variants baseline_pretrained \
        baseline_halfres kd_pretrained kd_halfres kd_pretrained_paper \
        kd_pretrained_inherit_only kd_pretrained_soft_cls kd_pretrained_reg \
        kd_pretrained_hint --section accuracy_regimes                    # REGIME_VARIANTS
    python benchmarks/bccd_accuracy.py --parallel 2 --variants baseline_halfres kd_halfres \
        kd_halfres_paper baseline_halfres_12e kd_halfres_12e kd_halfres_paper_12e \
        --section accuracy_resolution                                # RESOLUTION_VARIANTS
    python benchmarks/bccd_accuracy.py --setting gpu --parallel 8 --time-limit 470

Trains the teacher once, then for every seed the student alone (``baseline``), distilled with
every term (``kd``, mmkd's defaults) and with each term alone (and, on request, the inherited
heads alone, ``kd_inherit_only``, and the paper's method, ``kd_paper``); tests each on
BCCD's test split (COCO bbox mAP, percent). Writes the ``accuracy`` record (``--section``) of
``benchmarks/results.json``, with the question it answers, and regenerates
``benchmarks/RESULTS.md`` from it (``results_md.py``). Runs are cached and
resumable (:mod:`mmkd.experiments.study`): run the same command again after an
interruption, a time limit or a change, and only what is missing or out of date runs again.
Times are for 2 CPU cores. ``make bccd`` from a fresh clone at f747c56 took 75 min 42 s
(teacher 22 min with both cores, then students two at a time: 4.5 min alone, 7.2 to 7.6 min
distilled); the machine of most older records took about 60 min (students 3.5 to 4.5 min), one
machine of 2026-12-01 about 1.7 times as long.

How the teacher-student gap is made (from scratch, no pretrained weights):
- ``cpu`` (default; configs in benchmarks/configs/bccd/cpu): 256x192 input, narrow heads,
  AdamW; teacher R-50-FPN 12 epochs, students R-18-FPN 3 epochs.
- ``gpu`` (benchmarks/configs/bccd): 640x480, mmdet's heads, SGD; teacher R-50-FPN 36 epochs
  (the dataset README's reference run), students R-18-FPN 12 epochs.
"""
import argparse
import os.path as osp
import shlex
import sys
from typing import Dict, List, Optional, Tuple

from mmengine.config import Config

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)  # this checkout's mmkd, installed or not

from results_md import heading, write_results_md  # noqa: E402

from mmkd.experiments.records import (  # noqa: E402
    environment,
    fmt_mean_std,
    gap_closed,
    mean_std,
    write_json_section,
)
from mmkd.experiments.study import EXIT_INCOMPLETE, Run, run_study  # noqa: E402

CONFIGS = osp.join(ROOT, 'benchmarks', 'configs', 'bccd')
SETTINGS = dict(
    cpu=dict(teacher='cpu/faster-rcnn_r50_fpn_12e_bccd-256x192.py',
             baseline='cpu/faster-rcnn_r18_fpn_3e_bccd-256x192.py',
             kd='cpu/kd_faster-rcnn_r50-r18_fpn_3e_bccd-256x192.py',
             teacher_cascade='cpu/cascade-rcnn_r50_fpn_12e_bccd-256x192.py',
             kd_cascade='cpu/kd_cascade-rcnn_r50-faster-rcnn_r18_fpn_3e_bccd-256x192.py',
             baseline_narrow='cpu/faster-rcnn_r18_fpn32_3e_bccd-256x192.py',
             kd_narrow='cpu/kd_faster-rcnn_r50-r18_fpn32_3e_bccd-256x192.py',
             baseline_pretrained='cpu/faster-rcnn_mobilenetv2_fpn_3e_bccd-256x192.py',
             kd_pretrained='cpu/kd_faster-rcnn_r50-mobilenetv2_fpn_3e_bccd-256x192.py',
             baseline_halfres='cpu/faster-rcnn_r50_fpn_3e_bccd-128x96.py',
             kd_halfres='cpu/kd_faster-rcnn_r50-r50_fpn_3e_bccd-256x192-to-128x96.py',
             gap='teacher R-50-FPN 12 epochs, students R-18-FPN 3 epochs; 256x192, narrow '
             'heads (FPN 64 channels, 64 sampled anchors and RoIs), AdamW, batch 2'),
    gpu=dict(teacher='faster-rcnn_r50_fpn_36e_bccd-640x480.py',
             baseline='faster-rcnn_r18_fpn_12e_bccd-640x480.py',
             kd='kd_faster-rcnn_r50-r18_fpn_12e_bccd-640x480.py',
             gap='teacher R-50-FPN 36 epochs, students R-18-FPN 12 epochs; 640x480, '
             "mmdet's heads, SGD, batch 8"),
)
# Table 4 of the paper: each term alone. Without the soft loss, the hard classification
# loss is the whole L_cls again (mu = 1).
MU_1 = {'model.mu': 1.0}
# The teacher run of each distilled config (the others are baselines), and the baseline
# each is compared with.
TEACHER_OF = dict(kd='teacher', kd_cascade='teacher_cascade', kd_narrow='teacher',
                  kd_pretrained='teacher', kd_halfres='teacher')
BASELINE_OF = dict(kd_narrow='baseline_narrow', kd_pretrained='baseline_pretrained',
                   kd_halfres='baseline_halfres')
# configs whose backbone starts from ImageNet weights, made by pretrained_mobilenetv2.py
PRETRAINED = ('baseline_pretrained', 'kd_pretrained')
TEACHER_NAMES = dict(teacher='Faster R-CNN R-50-FPN', teacher_cascade='Cascade R-CNN R-50-FPN')
# The question a record answers, RESULTS.md's title for it (the data and seeds are added);
# --question gives it for another --section.
QUESTIONS = dict(
    accuracy='Does distillation help on real data?',
    accuracy_gpu='Does distillation help on real data?',
    accuracy_pairs='Does mmkd distil other pairs: a Cascade R-CNN teacher, a narrower student?',
    accuracy_regimes='Does distillation help a pretrained student, and a student at half the '
    "teacher's resolution?",
    accuracy_resolution="How much of the gap to a teacher at twice the student's resolution "
    "does distillation close, on the students' 3 epochs and on the teacher's 12?",
)
SOFT = ('loss_rpn_kd_cls', 'loss_kd_cls')
REG = ('loss_rpn_kd_bbox', 'loss_kd_bbox')  # L2 to the teacher's regression; the paper's bound
HINT = ('loss_hint', )
# Background weight 1 in both soft losses (the paper's is 1.5).
BG_1 = {'model.loss_rpn_kd_cls.bg_weight': 1.0, 'model.loss_kd_cls.bg_weight': 1.0}


def _block_options(block: str, keys: Tuple[str, ...]) -> dict:
    """``--cfg-options`` that set ``keys`` of the model to their values in the shared
    distillation block ``block`` of configs/_base_/kd_chen2017.py (a dict replaces)."""
    values = Config.fromfile(osp.join(ROOT, 'configs', '_base_', 'kd_chen2017.py'))[block]
    options = {}
    for key in keys:
        value = values[key]
        if isinstance(value, dict):
            value = dict(value.to_dict(), _delete_=True)
        options[f'model.{key}'] = list(value) if isinstance(value, tuple) else value
    return options


# The three changes from the paper's method to mmkd's defaults, one at a time, and all
# three undone: the paper's method (kd_chen2017_paper: the teacher bound in both heads, the
# hint through a 1x1 adapter, no inheriting). The defaults until the switch (records before
# it: their kd, kd_soft_cls, kd_bounded_reg and kd_hint are today's kd_paper,
# kd_paper_soft_cls, kd_paper_bounded_reg, kd_paper_hint).
INHERIT = _block_options('kd_chen2017', ('inherit_teacher', ))
NO_ADAPTER = _block_options('kd_chen2017', ('adapter', ))
L2_REG = _block_options('kd_chen2017', REG)
PAPER = _block_options('kd_chen2017_paper', REG + ('adapter', 'inherit_teacher'))


def _only(*terms, mu_1=True) -> dict:
    off = [t for t in SOFT + REG + HINT if t not in terms]
    return dict({f'model.{t}': None for t in off}, **(MU_1 if mu_1 else {}))


def _paper(options: dict) -> dict:
    return dict(PAPER, **options)


# name: (config, options, description)
VARIANTS = dict(
    baseline=('baseline', {}, 'student alone'),
    kd=('kd', {}, 'distilled, all terms (mmkd defaults)'),
    kd_inherit_only=('kd', _only(),
                     "no distillation term, RPN and R-CNN heads start from the teacher's"),
    kd_soft_cls=('kd', _only(*SOFT, mu_1=False), 'soft classification only'),
    kd_reg=('kd', _only(*REG), "L2 to the teacher's regression only"),
    kd_hint=('kd', _only(*HINT), 'hints only (no adaptation layer)'),
    kd_paper=('kd', dict(PAPER), "the paper's method, all terms"),
    # other pairs: a Cascade R-CNN teacher, a student whose neck is half the teacher's width
    kd_cascade=('kd_cascade', {}, 'distilled from the Cascade R-CNN R-50 teacher (defaults)'),
    baseline_narrow=('baseline_narrow', {}, 'student with FPN 32 channels (teacher 64) alone'),
    kd_narrow=('kd_narrow', {}, 'student with FPN 32 channels, distilled (defaults: hints '
               'through the 1x1 adapter, nothing inherited)'),
)
PAIR_VARIANTS = ['baseline', 'kd', 'kd_cascade', 'baseline_narrow', 'kd_narrow']
# Where users train: an ImageNet-pretrained MobileNetV2-FPN student (alone, mmkd's defaults,
# the paper's method, the inherited heads alone and each term alone), and the paper's second
# experiment, the teacher's architecture at half the teacher's input resolution.
VARIANTS.update(
    baseline_pretrained=('baseline_pretrained', {}, 'ImageNet MobileNetV2-FPN student alone'),
    baseline_halfres=('baseline_halfres', {}, 'R-50-FPN student at 128x96 alone'),
    kd_halfres=('kd_halfres', {}, 'R-50-FPN student at 128x96, distilled from the teacher at '
                '256x192 (defaults)'))
for _name in ('kd', 'kd_paper', 'kd_inherit_only', 'kd_soft_cls', 'kd_reg', 'kd_hint'):
    VARIANTS[_name.replace('kd', 'kd_pretrained', 1)] = (
        'kd_pretrained', VARIANTS[_name][1], f'MobileNetV2 student, {VARIANTS[_name][2]}')
# Mixed precision (mmengine's AmpOptimWrapper, dynamic loss scale; a GPU only): the GPU check.
AMP = {'optim_wrapper.type': 'AmpOptimWrapper', 'optim_wrapper.loss_scale': 'dynamic'}
VARIANTS['kd_amp'] = ('kd', AMP, 'distilled (defaults), mixed precision')
# The resolution experiment further: the paper's method there, and both students on the
# teacher's 12-epoch schedule (the most a 128x96 student reaches alone, and the paper's own
# design: teacher and student trained alike, only the input differs).
TEACHER_SCHEDULE = {'train_cfg.max_epochs': 12, 'param_scheduler.1.end': 12}
VARIANTS.update(
    kd_halfres_paper=('kd_halfres', dict(PAPER), "R-50-FPN student at 128x96, the paper's "
                      'method'),
    baseline_halfres_12e=('baseline_halfres', TEACHER_SCHEDULE,
                          "R-50-FPN student at 128x96 alone, the teacher's 12 epochs"),
    kd_halfres_12e=('kd_halfres', TEACHER_SCHEDULE, 'R-50-FPN student at 128x96, distilled '
                    "(defaults), the teacher's 12 epochs"),
    kd_halfres_paper_12e=('kd_halfres', dict(PAPER, **TEACHER_SCHEDULE),
                          "R-50-FPN student at 128x96, the paper's method, the teacher's 12 "
                          'epochs'))
for _name in ('kd_halfres_12e', 'kd_halfres_paper_12e'):  # a variant's own, before its config's
    BASELINE_OF[_name] = 'baseline_halfres_12e'
RESOLUTION_VARIANTS = ['baseline_halfres', 'kd_halfres', 'kd_halfres_paper',
                       'baseline_halfres_12e', 'kd_halfres_12e', 'kd_halfres_paper_12e']
REGIME_VARIANTS = ['baseline_pretrained', 'baseline_halfres', 'kd_pretrained', 'kd_halfres',
                   'kd_pretrained_paper', 'kd_pretrained_inherit_only',
                   'kd_pretrained_soft_cls', 'kd_pretrained_reg', 'kd_pretrained_hint']
# mmkd's defaults and each term alone, all from the teacher's heads (the main study, within
# 90 minutes on 2 cores); add kd_inherit_only and kd_paper for the record's full comparison.
DEFAULT_VARIANTS = ['baseline', 'kd', 'kd_soft_cls', 'kd_reg', 'kd_hint']
FULL_VARIANTS = ['baseline', 'kd', 'kd_inherit_only', 'kd_soft_cls', 'kd_reg', 'kd_hint',
                 'kd_paper']
ALONE = ('kd_soft_cls', 'kd_reg', 'kd_hint')  # "all terms above each term alone"
# The paper's Table 4 on its own method, and the search of its constants, each relative to the
# paper's method (the defaults when they ran; records in benchmarks/RESULTS.md), not run
# by default: --variants baseline kd_paper kd_paper_hint kd_gamma1 ... --section <name>.
VARIANTS.update(
    kd_paper_soft_cls=('kd', _paper(_only(*SOFT, mu_1=False)),
                       "the paper's method, soft classification only"),
    kd_paper_bounded_reg=('kd', _paper(_only(*REG)),
                          "the paper's method, teacher-bounded regression only"),
    kd_paper_hint=('kd', _paper(_only(*HINT)),
                   "the paper's method, hints only (adaptation layer)"),
    kd_hint_normalized=('kd', _paper({'model.loss_hint.normalize': True}),
                        'the paper\'s method, the hint divided by the teacher\'s mean square'),
    kd_gamma1=('kd', _paper({'model.loss_hint.loss_weight': 1.0}),
               "the paper's method, gamma 1"),
    kd_gamma2_5=('kd', _paper({'model.loss_hint.loss_weight': 2.5}),
                 "the paper's method, gamma 2.5 (each FPN level a hint of weight 0.5)"),
    kd_hint_bounded=('kd', _paper(_only(*HINT, *REG)),
                     "the paper's hints and bounded regression"),
    kd_hint_soft=('kd', _paper(_only(*HINT, *SOFT, mu_1=False)),
                  "the paper's hints and soft classification"),
    kd_T2=('kd', _paper({'model.loss_rpn_kd_cls.T': 2.0, 'model.loss_kd_cls.T': 2.0}),
           "the paper's method, temperature 2"),
    kd_mu1=('kd', _paper(MU_1),
            "the paper's method, hard classification at weight 1 (soft added)"),
    kd_bg1=('kd', _paper(BG_1), "the paper's method, background weight 1 in the soft loss"),
    kd_bg1_mu1=('kd', _paper(dict(MU_1, **BG_1)),
                "the paper's method, background weight 1, hard classification at weight 1"),
    # mmkd's RoI hint (loss_hint_roi, off by default) added to the paper's method; run as
    # the default at 3063314 ("kd" in the roi_hint record)
    kd_roi_hint=('kd', _paper({'model.loss_hint_roi': dict(_delete_=True, type='HintLoss',
                                                           loss_weight=0.5)}),
                 "the paper's method, plus the hint on the sampled RoIs"),
    # the screen of seeds 0 and 1 that found today's defaults (defaults_vs_paper_15_seeds)
    kd_inherit=('kd', _paper(INHERIT), "the paper's method, RPN and R-CNN heads start from "
                "the teacher's"),
    kd_inherit_noadapt=('kd', _paper(dict(INHERIT, **NO_ADAPTER)),
                        "the paper's method, heads from the teacher's, hint without adapter"),
    kd_noadapt=('kd', _paper(NO_ADAPTER), "the paper's method, hint without adapter"),
    kd_l2reg=('kd', _paper(L2_REG),
              "the paper's method, L2 to the teacher's regression instead of the bound"),
    kd_inherit_noadapt_l2reg=('kd', _paper(dict(INHERIT, **NO_ADAPTER, **L2_REG)),
                              "the paper's method, heads from the teacher's, hint without "
                              "adapter, L2 to the teacher's regression (today's defaults)"),
)
QUICK_SCALE = 0.25  # --quick: a few tiny images, one epoch: the pipeline, not a result


def parse_args(argv: List[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--setting', choices=list(SETTINGS), default='cpu')
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    parser.add_argument('--variants', nargs='+', choices=list(VARIANTS),
                        default=DEFAULT_VARIANTS)
    parser.add_argument('--parallel', type=int, default=1, help='runs at a time')
    parser.add_argument('--time-limit', type=float, help='stop unfinished runs after this '
                        f'many seconds (exit status {EXIT_INCOMPLETE}); run again to go on')
    parser.add_argument('--data-root', help='BCCD (default: ../shared/datasets/bccd beside '
                        'the repository, or $MMKD_BCCD_ROOT)')
    parser.add_argument('--work-dir', help='default: work_dirs/bccd_accuracy[_<setting>]')
    parser.add_argument('--results', default=osp.join(ROOT, 'benchmarks', 'results.json'))
    parser.add_argument('--markdown', help='regenerated from --results after the record is '
                        'written (default: RESULTS.md beside --results)')
    parser.add_argument('--section', help='record name in results.json (default: accuracy, '
                        'accuracy_gpu for --setting gpu)')
    parser.add_argument('--question', help="the question the record answers, its title in "
                        "RESULTS.md (default: the section's in QUESTIONS; the data and the "
                        'number of seeds are added)')
    parser.add_argument('--quick', action='store_true',
                        help='a pipeline check on 2 tiny images; records go to the work dir')
    args = parser.parse_args(argv)
    suffix = ('' if args.setting == 'cpu' else f'_{args.setting}') + (
        '_quick' if args.quick else '')
    args.work_dir = osp.abspath(args.work_dir or osp.join(ROOT, 'work_dirs',
                                                          f'bccd_accuracy{suffix}'))
    if args.quick:
        args.results = osp.join(args.work_dir, 'results.json')
        args.markdown = osp.join(args.work_dir, 'RESULTS.md')
    args.markdown = args.markdown or osp.join(osp.dirname(args.results), 'RESULTS.md')
    args.section = args.section or (
        'accuracy' if args.setting == 'cpu' else f'accuracy_{args.setting}')
    args.question = question(args)
    args.command = shlex.join(['python', 'benchmarks/bccd_accuracy.py'] + argv)
    return args


def question(args: argparse.Namespace) -> Optional[str]:
    """``'Does distillation help on real data? (BCCD, 3 seeds)'``; None without one."""
    text = args.question or QUESTIONS.get(args.section)
    if not text:
        return None
    data = 'BCCD' if args.setting == 'cpu' else f'BCCD, `{args.setting}` setting'
    seeds = len(args.seeds)
    return f"{text} ({data}, {seeds} seed{'s' if seeds > 1 else ''})"


def plan(args: argparse.Namespace) -> List[Run]:
    """The teachers, then per variant (baselines first) every seed."""
    setting = SETTINGS[args.setting]
    configs = [VARIANTS[name][0] for name in args.variants]
    teachers = ['teacher'] + sorted({TEACHER_OF[c] for c in configs if c in TEACHER_OF} -
                                    {'teacher'})
    runs = [Run(name, osp.join(CONFIGS, setting[name])) for name in teachers]
    names = sorted(args.variants, key=lambda n: VARIANTS[n][0] in TEACHER_OF)
    for name in names:
        config, options, _ = VARIANTS[name]
        teacher = f'{TEACHER_OF[config]}/seed0' if config in TEACHER_OF else None
        runs += [Run(name, osp.join(CONFIGS, setting[config]), seed, teacher, options)
                 for seed in args.seeds]
    return runs


def prepare(args: argparse.Namespace):
    """Data root, and for --quick a one-epoch run on two tiny images."""

    def _prepare(cfg: Config, run: Run) -> None:
        if args.data_root:
            set_data_root(cfg, args.data_root)
        if args.quick:
            make_quick(cfg)

    return _prepare


def set_data_root(cfg: Config, root: str) -> None:
    root = osp.join(osp.abspath(root), '')
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.data_root = root
    for key in ('val_evaluator', 'test_evaluator'):
        cfg[key].ann_file = root + cfg.test_dataloader.dataset.ann_file


def check_data(args: argparse.Namespace) -> None:
    """Stop before any training with the path that is missing."""
    cfg = Config.fromfile(osp.join(CONFIGS, SETTINGS[args.setting]['teacher']))
    if args.data_root:
        set_data_root(cfg, args.data_root)
    for key in ('train_dataloader', 'test_dataloader'):
        dataset = cfg[key].dataset
        ann_file = osp.normpath(osp.join(dataset.data_root, dataset.ann_file))
        if not osp.isfile(ann_file):
            raise SystemExit(f"BCCD annotations '{ann_file}' not found: give --data-root "
                             '/path/to/bccd (annotations/trainval.json, annotations/test.json, '
                             'images/) or set MMKD_BCCD_ROOT')


def make_quick(cfg: Config) -> None:
    cfg.train_cfg.max_epochs = 1
    cfg.train_cfg.val_begin = 2
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg[key]
        loader.update(batch_size=2, num_workers=0, persistent_workers=False)
        loader.dataset.indices = 2
        for transform in loader.dataset.pipeline:
            if transform.type == 'Resize':
                transform.scale = tuple(round(s * QUICK_SCALE) for s in transform.scale)
    for scheduler in cfg.param_scheduler:
        if scheduler.get('by_epoch', True):
            scheduler.end = 1
    cfg.default_hooks.logger.interval = 1
    if cfg.optim_wrapper.get('type') == 'AmpOptimWrapper' and not _cuda():
        cfg.optim_wrapper.type = 'OptimWrapper'  # mmengine's AMP needs a GPU
        cfg.optim_wrapper.pop('loss_scale')
    for hook in cfg.get('custom_hooks', []):
        if hook.type == 'TeacherCheckHook':  # a one-epoch teacher on two images scores ~0
            hook.threshold = 0


def _cuda() -> bool:
    import torch
    return torch.cuda.is_available()


def summarize(args: argparse.Namespace, results: Dict[str, dict]) -> dict:
    """The ``accuracy`` record: teacher, every variant per seed, the main comparison."""
    done = {label: r for label, r in results.items() if r['status'] == 'done'}
    teachers = {label.split('/')[0]: dict(mAP=r['mAP'], mAP_50=r['mAP_50'])
                for label, r in done.items() if label.startswith('teacher')}
    teacher = teachers.get('teacher')
    teacher_map = teacher['mAP'] if teacher else None
    variants = {}
    for name in args.variants:
        runs = {seed: done[f'{name}/seed{seed}'] for seed in args.seeds
                if f'{name}/seed{seed}' in done}
        if runs:
            variants[name] = variant_record(name, runs)
    for name, record in variants.items():
        config = VARIANTS[name][0]
        base = variants.get(BASELINE_OF.get(name) or BASELINE_OF.get(config, 'baseline'))
        if config in TEACHER_OF and base:
            record['gain'] = round(record['map_mean'] - base['map_mean'], 2)
            own_teacher = teachers.get(TEACHER_OF[config])
            if own_teacher is not None:
                closed = gap_closed(record['map_mean'], base['map_mean'], own_teacher['mAP'])
                record['gap_closed'] = None if closed is None else round(closed, 3)
                record['targets'] = variant_targets(record, base, own_teacher['mAP'])
    base, kd = variants.get('baseline', {}), variants.get('kd', {})
    record = dict(
        question=args.question,
        dataset='BCCD test split (72 images), COCO bbox mAP in percent',
        setting=args.setting, gap_made_by=SETTINGS[args.setting]['gap'],
        command=args.command, **environment(),
        complete=len(done) == len(results),
        unfinished={label: r['status'] for label, r in results.items() if label not in done},
        seeds=sorted(set(base.get('seeds', [])) & set(kd.get('seeds', []))),
        teacher_map=teacher_map, teacher_map_50=teacher['mAP_50'] if teacher else None,
        teachers=teachers,
        baseline_map_mean=base.get('map_mean'), baseline_map_std=base.get('map_std'),
        kd_map_mean=kd.get('map_mean'), kd_map_std=kd.get('map_std'),
        gain=kd.get('gain'), gap_closed=kd.get('gap_closed'), variants=variants)
    record['targets'] = targets(record)
    return record


def variant_record(name: str, runs: Dict[int, dict]) -> dict:
    maps = [runs[s]['mAP'] for s in sorted(runs)]
    maps_50 = [runs[s]['mAP_50'] for s in sorted(runs)]
    (mean, std), (mean_50, std_50) = mean_std(maps), mean_std(maps_50)
    return dict(description=VARIANTS[name][2], options=VARIANTS[name][1], seeds=sorted(runs),
                map=maps, map_50=maps_50, map_mean=round(mean, 2),
                map_std=None if std is None else round(std, 2), map_50_mean=round(mean_50, 2),
                map_50_std=None if std_50 is None else round(std_50, 2))


def variant_targets(record: dict, base: dict, teacher_map: float) -> dict:
    """A distilled variant's bar: above its baseline by more than either spread, and two
    thirds of the gap closed where the teacher leads the baseline by 3 mAP or more."""
    spread = max(record['map_std'] or 0.0, base['map_std'] or 0.0)
    gap = teacher_map - base['map_mean']
    return dict(gain_above_spread=record['gain'] > spread,
                gap_at_least_3=gap >= 3.0,
                gap_closed_two_thirds=(record.get('gap_closed') or 0.0) >= 2 / 3
                if gap >= 3.0 else None)


def targets(record: dict) -> Optional[dict]:
    """The bar of the main study: kd >= baseline + 1.5 mAP, the gain above either spread,
    at least two thirds of the gap closed, all terms above each term alone; teacher ahead
    by 5 on every seed."""
    variants = record['variants']
    if record['gain'] is None:
        return None
    spread = max(record['baseline_map_std'] or 0.0, record['kd_map_std'] or 0.0)
    alone = [variants[n]['map_mean'] for n in ALONE if n in variants]
    return dict(
        gain_at_least_1_5=record['gain'] >= 1.5, gain_above_spread=record['gain'] > spread,
        gap_closed_two_thirds=(record['gap_closed'] or 0.0) >= 2 / 3,
        all_above_each_alone=bool(alone) and record['kd_map_mean'] > max(alone),
        teacher_ahead_by_5=all(record['teacher_map'] - m >= 5.0
                               for m in variants['baseline']['map']))


def markdown(record: dict, name: str = 'accuracy') -> str:
    """The record's section of RESULTS.md: its question, command, device and date, and a table
    of every teacher and variant (records made before ``teachers`` have ``teacher_map``)."""
    teachers = record.get('teachers') or (
        {'teacher': dict(mAP=record['teacher_map'], mAP_50=record['teacher_map_50'])}
        if record.get('teacher_map') is not None else {})
    lines = heading(name, record, f"Setting `{record['setting']}`: {record['gap_made_by']}. "
                    f"mAP: {record['dataset']}.")
    lines += ['| variant | what | mAP per seed | mAP | mAP@0.5 | vs baseline | gap closed |',
              '|---|---|---|---|---|---|---|']
    for teacher, result in teachers.items():
        lines.append(f"| {teacher} | {TEACHER_NAMES.get(teacher, teacher)} | "
                     f"{result['mAP']:.1f} | {result['mAP']:.1f} | {result['mAP_50']:.1f} | | |")
    for variant, v in record['variants'].items():
        seeds = ' / '.join(f'{m:.1f}' for m in v['map'])
        gain = f"{v['gain']:+.1f}" if 'gain' in v else ''
        closed = f"{100 * v['gap_closed']:.0f}%" if v.get('gap_closed') is not None else ''
        lines.append(f"| {variant} | {v['description']} | {seeds} | {fmt_mean_std(v['map'])} | "
                     f"{fmt_mean_std(v['map_50'])} | {gain} | {closed} |")
    if record.get('targets'):
        lines += ['', f"Targets: {_met(record['targets'])}."]
    for variant, v in record['variants'].items():
        if v.get('targets') and variant != 'kd':
            lines += ['', f"Targets of {variant}: {_met(v['targets'])}."]
    if not record['complete']:
        lines += ['', f"Incomplete: {record['unfinished']}."]
    return '\n'.join(lines) + '\n'


def _met(targets: dict) -> str:
    return ', '.join(f"{k}: {'n/a' if v is None else 'yes' if v else 'NO'}"
                     for k, v in targets.items())


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    check_data(args)
    if not args.quick and not _cuda() and any(VARIANTS[n][1] is AMP for n in args.variants):
        raise SystemExit('kd_amp trains with mixed precision, which needs a GPU: drop it '
                         'from --variants (or run with --quick for the pipeline)')
    if not args.quick and any(VARIANTS[n][0] in PRETRAINED for n in args.variants):
        from pretrained_mobilenetv2 import prepare as prepare_weights
        prepare_weights()  # downloads and converts once
    results = run_study(plan(args), args.work_dir, prepare(args), args.parallel,
                        args.time_limit)
    record = summarize(args, results)
    write_json_section(args.results, args.section, record)
    write_results_md(args.results, args.markdown)
    print(markdown(record, args.section))
    statuses = {r['status'] for r in results.values()}
    if 'failed' in statuses:
        return 1
    return EXIT_INCOMPLETE if 'stopped' in statuses else 0


if __name__ == '__main__':
    sys.exit(main())
