"""BCCD accuracy study: configs, plan and summary with hand-made numbers, --quick end to end."""
import glob
import os
import os.path as osp
import subprocess
import sys

import pytest
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules
from mmengine.config import Config

import mmkd  # noqa: F401
from mmkd.detectors.pair import last_bbox_head
from mmkd.experiments.records import read_json
from mmkd.experiments.study import prepare_config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'benchmarks'))
import bccd_accuracy as bench  # noqa: E402

CONFIGS = sorted(glob.glob(osp.join(bench.CONFIGS, '**', '*.py'), recursive=True))
KD_TERMS = ('loss_rpn_kd_cls', 'loss_rpn_kd_bbox', 'loss_kd_cls', 'loss_kd_bbox', 'loss_hint',
            'loss_hint_roi')
ALL = set(KD_TERMS) - {'loss_hint_roi'}  # the defaults: mmkd's RoI hint is off
SOFT = {'loss_rpn_kd_cls', 'loss_kd_cls'}
REG = {'loss_rpn_kd_bbox', 'loss_kd_bbox'}
TRAINING = ('train_dataloader', 'test_dataloader', 'test_evaluator', 'train_cfg',
            'param_scheduler', 'optim_wrapper', 'default_hooks')

HOOKS = ['TeacherCheckHook', 'StopOnNonFiniteLossHook', 'ExactResumeHook',
         'TeacherProvenanceHook']  # on in every mmkd config
register_all_modules()


def config(setting: str, role: str) -> Config:
    return Config.fromfile(osp.join(bench.CONFIGS, bench.SETTINGS[setting][role]))


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(p, bench.CONFIGS))
def test_every_benchmark_config_builds_with_bccd_classes_from_scratch_or_imagenet(path):
    cfg = Config.fromfile(path)
    model = MODELS.build(cfg.model)
    if 'mobilenetv2' in path:  # the pretrained student: ImageNet weights, fine-tuned
        assert cfg.model.backbone.init_cfg.checkpoint.endswith(
            'work_dirs/pretrained/mobilenet_v2_imagenet_mmdet.pth')
        assert model.backbone.norm_eval and model.backbone.frozen_stages == 1
    else:
        assert cfg.model.backbone.init_cfg is None
        assert not model.backbone.norm_eval and model.backbone.frozen_stages == -1
    assert last_bbox_head(model).num_classes == 3  # a Cascade teacher's: per stage
    assert cfg.train_dataloader.dataset.metainfo.classes == ('RBC', 'WBC', 'Platelets')
    if hasattr(model, 'teacher'):
        assert model.teacher.backbone.depth == 50
        if 'mobilenetv2' not in path:  # the teacher's depth only where the input differs
            assert model.backbone.depth == (50 if 'r50-r50' in path else 18)


@pytest.mark.parametrize('setting', list(bench.SETTINGS))
def test_distilled_student_trains_exactly_as_its_baseline_with_mmkd_defaults(setting):
    kd, base, teacher = (config(setting, r) for r in ('kd', 'baseline', 'teacher'))
    assert {k: kd.to_dict()[k] for k in TRAINING} == {k: base.to_dict()[k] for k in TRAINING}
    assert kd.model.backbone == base.model.backbone and kd.model.neck == base.model.neck
    assert kd.train_cfg.max_epochs < teacher.train_cfg.max_epochs  # how the gap is made
    fragment = Config.fromfile(osp.join(ROOT, 'configs', '_base_', 'kd_chen2017.py'))
    for term in KD_TERMS:
        assert kd.model[term] == fragment.kd_chen2017[term]
    assert [h.type for h in kd.custom_hooks] == HOOKS


def test_cpu_setting_is_sized_for_two_cores():
    teacher = config('cpu', 'teacher')
    assert teacher.train_dataloader.dataset.pipeline[2].scale == (256, 192)
    assert teacher.model.neck.out_channels == 64
    assert teacher.model.train_cfg.rcnn.sampler.num == 64
    assert (teacher.train_cfg.max_epochs, config('cpu', 'baseline').train_cfg.max_epochs) == (
        12, 3)


def test_data_root_is_shared_bccd_beside_the_repository_or_the_environment(monkeypatch):
    expected = osp.normpath(osp.join(ROOT, '..', 'shared', 'datasets', 'bccd'))
    cfg = config('cpu', 'kd')
    for key in ('train_dataloader', 'test_dataloader', 'val_dataloader'):
        assert osp.normpath(cfg[key].dataset.data_root) == expected
    monkeypatch.setenv('MMKD_BCCD_ROOT', '/data/bccd')
    cfg = config('cpu', 'kd')
    assert cfg.train_dataloader.dataset.data_root == '/data/bccd/'
    assert cfg.test_evaluator.ann_file == '/data/bccd/annotations/test.json'


# variant: (terms on, mu = weight of the student's hard classification)
ABLATIONS = {
    # mmkd's defaults and each term alone
    'kd': (ALL, 0.5),
    'kd_inherit_only': (set(), 1.0),
    'kd_soft_cls': (SOFT, 0.5),
    'kd_reg': (REG, 1.0),
    'kd_hint': ({'loss_hint'}, 1.0),
    # the paper's method, its Table 4 and the search of its constants
    'kd_paper': (ALL, 0.5),
    'kd_paper_soft_cls': (SOFT, 0.5),
    'kd_paper_bounded_reg': (REG, 1.0),
    'kd_paper_hint': ({'loss_hint'}, 1.0),
    'kd_hint_normalized': (ALL, 0.5),
    'kd_gamma1': (ALL, 0.5),
    'kd_gamma2_5': (ALL, 0.5),
    'kd_hint_bounded': ({'loss_hint'} | REG, 1.0),
    'kd_hint_soft': ({'loss_hint'} | SOFT, 0.5),
    'kd_T2': (ALL, 0.5),
    'kd_mu1': (ALL, 1.0),
    'kd_bg1': (ALL, 0.5),
    'kd_bg1_mu1': (ALL, 1.0),
    'kd_roi_hint': (set(KD_TERMS), 0.5),
    'kd_inherit': (ALL, 0.5),
    'kd_inherit_noadapt': (ALL, 0.5),
    'kd_noadapt': (ALL, 0.5),
    'kd_l2reg': (ALL, 0.5),
    'kd_inherit_noadapt_l2reg': (ALL, 0.5),
}
ON_DEFAULTS = ('kd', 'kd_inherit_only', 'kd_soft_cls', 'kd_reg', 'kd_hint')
GAMMA = {'kd_gamma1': 1.0, 'kd_gamma2_5': 2.5}  # the hint weight, where not 0.5


def checked_terms_and_mu(run) -> Config:
    """The run's config with its options; its terms and mu are those of ABLATIONS."""
    cfg = Config.fromfile(run.config)
    cfg.merge_from_dict(run.options)
    terms, mu = ABLATIONS[run.name]
    assert {t for t in KD_TERMS if cfg.model[t] is not None} == terms, run.name
    assert cfg.model.mu == mu and cfg.model.rpn_head.loss_cls.loss_weight == 1.0
    return cfg


def test_plan_teacher_first_then_baselines_then_students_with_their_options():
    args = bench.parse_args(['--seeds', '0', '1'])
    assert [r.label for r in bench.plan(args)][3:] == [
        f'{n}/seed{s}' for n in ('kd', 'kd_soft_cls', 'kd_reg', 'kd_hint') for s in (0, 1)]
    args = bench.parse_args(['--seeds', '0', '1', '--variants'] + bench.FULL_VARIANTS)
    runs = bench.plan(args)
    assert [r.label for r in runs] == ['teacher/seed0', 'baseline/seed0', 'baseline/seed1'] + [
        f'{n}/seed{s}' for n in ON_DEFAULTS + ('kd_paper', ) for s in (0, 1)]
    for run in runs[3:]:
        cfg = checked_terms_and_mu(run)
        if cfg.model.loss_hint is not None:  # the paper's plain hint, but in its own variant
            assert cfg.model.loss_hint.normalize == (run.name == 'kd_hint_normalized')
        assert run.teacher == 'teacher/seed0'


def test_every_variant_changes_what_it_says_and_search_records_apart():
    args = bench.parse_args(['--seeds', '0', '--variants'] + list(ABLATIONS) +
                            ['--section', 'accuracy_search'])
    assert args.section == 'accuracy_search'
    assert bench.parse_args([]).section == 'accuracy'
    assert bench.parse_args(['--setting', 'gpu']).section == 'accuracy_gpu'
    defaults = config('cpu', 'kd').model
    assert defaults.loss_hint.loss_weight == 0.5 and defaults.loss_kd_cls.T == 1.0
    assert defaults.loss_kd_cls.bg_weight == defaults.loss_rpn_kd_cls.bg_weight == 1.5
    for run in bench.plan(args)[1:]:
        cfg = checked_terms_and_mu(run)
        if cfg.model.loss_hint is not None:
            assert cfg.model.loss_hint.loss_weight == GAMMA.get(run.name, 0.5), run.name
        if cfg.model.loss_kd_cls is not None:
            T = 2.0 if run.name == 'kd_T2' else 1.0
            assert cfg.model.loss_kd_cls.T == cfg.model.loss_rpn_kd_cls.T == T, run.name
            w_bg = 1.0 if run.name.startswith('kd_bg1') else 1.5
            assert cfg.model.loss_kd_cls.bg_weight == w_bg, run.name
            assert cfg.model.loss_rpn_kd_cls.bg_weight == w_bg, run.name
        # the defaults' three changes to the paper's method, or the paper's with those
        # of them the name says
        ours = run.name in ON_DEFAULTS
        inherit = 'auto' if ours or 'inherit' in run.name else []
        assert (cfg.model.inherit_teacher if inherit else list(cfg.model.inherit_teacher)) \
            == inherit, run.name
        assert (cfg.model.adapter == 'auto') == (ours or 'noadapt' in run.name), run.name
        l2 = ours or 'l2reg' in run.name
        for term in ('loss_rpn_kd_bbox', 'loss_kd_bbox'):
            if cfg.model[term] is not None:
                assert cfg.model[term].type == ('TeacherL2RegressionLoss' if l2 else
                                                'TeacherBoundedRegressionLoss'), run.name
                assert ('margin' in cfg.model[term]) != l2, run.name


def fake_results(maps: dict) -> dict:
    out = {'teacher/seed0': dict(status='done', mAP=maps.pop('teacher'), mAP_50=80.0)}
    for name, values in maps.items():
        for seed, value in enumerate(values):
            out[f'{name}/seed{seed}'] = dict(status='done', mAP=value, mAP_50=value + 30)
    return out


def test_summary_and_targets_from_hand_made_numbers():
    args = bench.parse_args([])
    results = fake_results(dict(teacher=51.0, baseline=[41.0, 42.0, 43.0],
                                kd=[48.0, 48.5, 49.0], kd_soft_cls=[46.0, 46.0, 46.0],
                                kd_reg=[42.0, 43.0, 44.0], kd_hint=[44.0, 45.0, 46.0]))
    record = bench.summarize(args, results)
    assert record['baseline_map_mean'] == 42.0 and record['baseline_map_std'] == 1.0
    assert record['kd_map_mean'] == 48.5 and record['kd_map_std'] == 0.5
    assert record['gain'] == 6.5 and record['gap_closed'] == round(6.5 / 9, 3)
    assert record['seeds'] == [0, 1, 2] and record['complete']
    assert record['variants']['kd_hint']['gain'] == 3.0
    assert record['targets'] == dict(gain_at_least_1_5=True, gain_above_spread=True,
                                     gap_closed_two_thirds=True, all_above_each_alone=True,
                                     teacher_ahead_by_5=True)
    results['kd_soft_cls/seed2']['mAP'] = 53.5  # one term alone above all of them
    results['baseline/seed2'] = dict(status='failed', error='exit 1')
    record = bench.summarize(args, results)
    assert not record['targets']['all_above_each_alone'] and not record['complete']
    assert record['unfinished'] == {'baseline/seed2': 'failed'}
    assert record['variants']['baseline']['seeds'] == [0, 1]
    text = bench.markdown(record)
    assert text.startswith('## Does distillation help on real data? (BCCD, 3 seeds)\n')
    assert record['question'] == 'Does distillation help on real data? (BCCD, 3 seeds)'
    assert '```\npython benchmarks/bccd_accuracy.py\n```' in text
    assert '| kd | distilled, all terms (mmkd defaults) | 48.0 / 48.5 / 49.0 | 48.5 ± 0.5 |' in text


def test_question_of_each_record_with_its_data_and_seeds():
    def question(argv):
        return bench.parse_args(argv).question

    assert question(['--seeds', '0']) == 'Does distillation help on real data? (BCCD, 1 seed)'
    assert question(['--setting', 'gpu']) == (
        'Does distillation help on real data? (BCCD, `gpu` setting, 3 seeds)')
    assert question(['--section', 'mine']) is None  # titled by its name in RESULTS.md
    assert question(['--section', 'mine', '--question', 'Does T = 3 help?', '--seeds', '0',
                     '1']) == 'Does T = 3 help? (BCCD, 2 seeds)'


def test_pairs_plan_both_teachers_and_compare_each_with_its_own_baseline_and_teacher():
    pairs = ['--variants'] + bench.PAIR_VARIANTS + ['--section', 'accuracy_pairs']
    question = 'Does mmkd distil other pairs: a Cascade R-CNN teacher, a narrower student?'
    assert bench.parse_args(['--parallel', '2'] + pairs).question == f'{question} (BCCD, 3 seeds)'
    args = bench.parse_args(['--seeds', '0', '1'] + pairs)
    runs = bench.plan(args)
    assert [r.label for r in runs[:2]] == ['teacher/seed0', 'teacher_cascade/seed0']
    teachers = {r.name: r.teacher for r in runs[2:]}
    assert teachers == dict(baseline=None, baseline_narrow=None, kd='teacher/seed0',
                            kd_cascade='teacher_cascade/seed0', kd_narrow='teacher/seed0')
    assert Config.fromfile(runs[1].config).model.type == 'CascadeRCNN'
    narrow = Config.fromfile([r for r in runs if r.name == 'kd_narrow'][0].config).model
    assert narrow.neck.out_channels == 32 and narrow.adapter == 'auto'
    results = fake_results(dict(teacher=51.0, baseline=[41.0, 43.0], kd=[48.0, 49.0],
                                kd_cascade=[49.0, 50.0], baseline_narrow=[38.0, 40.0],
                                kd_narrow=[45.0, 46.0]))
    results['teacher_cascade/seed0'] = dict(status='done', mAP=53.0, mAP_50=82.0)
    record = bench.summarize(args, results)
    variants = record['variants']
    assert record['teachers'] == dict(teacher=dict(mAP=51.0, mAP_50=80.0),
                                      teacher_cascade=dict(mAP=53.0, mAP_50=82.0))
    assert variants['kd_cascade']['gain'] == 7.5  # against the R-18 baseline, 42.0
    assert variants['kd_cascade']['gap_closed'] == round(7.5 / 11.0, 3)  # teacher 53.0
    assert variants['kd_narrow']['gain'] == 6.5  # against its own baseline, 39.0
    assert variants['kd_narrow']['gap_closed'] == round(6.5 / 12.0, 3)
    assert 'gain' not in variants['baseline_narrow']
    assert record['question'] == f'{question} (BCCD, 2 seeds)'
    text = bench.markdown(record, 'accuracy_pairs')
    assert text.startswith(f"## {record['question']}\n")
    assert '| teacher | Faster R-CNN R-50-FPN | 51.0 | 51.0 | 80.0 | | |' in text
    assert '| teacher_cascade | Cascade R-CNN R-50-FPN | 53.0 | 53.0 | 82.0 | | |' in text


def test_regimes_compare_each_student_with_its_own_baseline_and_flag_small_gaps():
    args = bench.parse_args(['--seeds', '0', '1', '--variants'] + bench.REGIME_VARIANTS +
                            ['--section', 'accuracy_regimes'])
    runs = bench.plan(args)
    assert [r.label for r in runs[:5]] == ['teacher/seed0', 'baseline_pretrained/seed0',
                                           'baseline_pretrained/seed1',
                                           'baseline_halfres/seed0', 'baseline_halfres/seed1']
    assert {r.teacher for r in runs[5:]} == {'teacher/seed0'}
    for run in runs[5:]:
        if run.name.startswith('kd_pretrained'):  # the ablation of the main study, as it is
            base_name = run.name.replace('kd_pretrained', 'kd', 1)
            assert run.options == bench.VARIANTS[base_name][1]
    results = fake_results(dict(teacher=56.0, baseline_pretrained=[54.0, 55.0],
                                kd_pretrained=[56.0, 56.5], baseline_halfres=[30.0, 32.0],
                                kd_halfres=[40.0, 41.0]))
    record = bench.summarize(args, results)['variants']
    assert record['kd_pretrained']['gain'] == 1.75  # against 54.5, a gap of 1.5: not judged
    assert record['kd_pretrained']['targets'] == dict(
        gain_above_spread=True, gap_at_least_3=False, gap_closed_two_thirds=None)
    assert record['kd_halfres']['gain'] == 9.5 and record['kd_halfres']['gap_closed'] == 0.38
    assert record['kd_halfres']['targets'] == dict(
        gain_above_spread=True, gap_at_least_3=True, gap_closed_two_thirds=False)
    text = bench.markdown(bench.summarize(args, results), 'accuracy_regimes')
    assert ('Targets of kd_pretrained: gain_above_spread: yes, gap_at_least_3: NO, '
            'gap_closed_two_thirds: n/a.') in text
    assert ('Targets of kd_halfres: gain_above_spread: yes, gap_at_least_3: yes, '
            'gap_closed_two_thirds: NO.') in text


def test_resolution_students_on_the_teachers_schedule_are_compared_with_each_other(tmp_path):
    args = bench.parse_args(['--seeds', '0', '1', '--variants'] + bench.RESOLUTION_VARIANTS +
                            ['--section', 'accuracy_resolution'])
    runs = {r.label: r for r in bench.plan(args)}
    cfg = prepare_config(runs['kd_halfres_12e/seed0'], str(tmp_path))
    teacher = config('cpu', 'teacher')
    assert cfg.train_cfg.max_epochs == teacher.train_cfg.max_epochs == 12
    # the same cosine over 12 epochs
    assert cfg.to_dict()['param_scheduler'] == teacher.to_dict()['param_scheduler']
    assert runs['kd_halfres_paper/seed1'].options == bench.VARIANTS['kd_paper'][1]
    assert runs['kd_halfres_paper_12e/seed0'].options == dict(bench.VARIANTS['kd_paper'][1],
                                                             **bench.TEACHER_SCHEDULE)
    results = fake_results(dict(teacher=56.0, baseline_halfres=[38.0, 40.0],
                                kd_halfres=[42.0, 43.0], kd_halfres_paper=[41.0, 42.0],
                                baseline_halfres_12e=[46.0, 48.0], kd_halfres_12e=[50.0, 51.0],
                                kd_halfres_paper_12e=[48.0, 49.0]))
    record = bench.summarize(args, results)['variants']
    assert record['kd_halfres_12e']['gain'] == 3.5  # against the 12-epoch student, 47.0
    assert record['kd_halfres_paper_12e']['gain'] == 1.5
    assert record['kd_halfres_12e']['gap_closed'] == round(3.5 / 9.0, 3)
    assert record['kd_halfres_paper']['gain'] == 2.5  # against the 3-epoch student, 39.0
    assert 'gain' not in record['baseline_halfres_12e']


def test_pretrained_student_trains_as_its_baseline_and_halfres_at_half_the_teachers_input():
    kd, base = config('cpu', 'kd_pretrained'), config('cpu', 'baseline_pretrained')
    assert {k: kd.to_dict()[k] for k in TRAINING} == {k: base.to_dict()[k] for k in TRAINING}
    assert kd.model.backbone == base.model.backbone and kd.model.backbone.type == 'MobileNetV2'
    kd, base = config('cpu', 'kd_halfres'), config('cpu', 'baseline_halfres')
    teacher = config('cpu', 'teacher')
    resize = [[t.scale for t in c[key].dataset.pipeline if t.type == 'Resize'][0]
              for c, key in ((teacher, 'train_dataloader'), (kd, 'train_dataloader'),
                             (base, 'train_dataloader'), (kd, 'test_dataloader'),
                             (base, 'test_dataloader'))]
    assert resize == [(256, 192), (256, 192), (128, 96), (128, 96), (128, 96)]
    assert kd.model.student_downsample == 2 and kd.model.backbone == base.model.backbone
    assert kd.train_cfg == base.train_cfg and kd.optim_wrapper == base.optim_wrapper
    # anchors halved with the input (8-128 px), the same alone and distilled
    assert kd.model.rpn_head == base.model.rpn_head
    assert base.model.rpn_head.anchor_generator.scales == [2]
    assert teacher.model.rpn_head.anchor_generator.scales == [4]
    model = MODELS.build(kd.model)
    assert model.level_map == {0: 1, 1: 2, 2: 3, 3: 4}
    assert model.rpn_level_map == {lvl: (lvl, 2) for lvl in range(5)} and model.distill_rpn


def test_amp_variant_needs_a_gpu_and_says_so_before_training(monkeypatch):
    import torch
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    with pytest.raises(SystemExit, match='kd_amp trains with mixed precision, which needs a '
                       'GPU'):
        bench.main(['--variants', 'baseline', 'kd_amp', '--work-dir', '/nonexistent'])


def test_quick_study_end_to_end_records_every_run(tmp_path, tiny_bccd):
    data, work = tiny_bccd, str(tmp_path / 'work')
    cmd = [sys.executable, osp.join(ROOT, 'benchmarks', 'bccd_accuracy.py'), '--quick',
           '--data-root', data, '--work-dir', work, '--seeds', '0', '--variants',
           'baseline', 'kd', '--parallel', '2']
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, PYTHONWARNINGS='ignore'))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    record = read_json(osp.join(work, 'results.json'))['accuracy']
    runs = {n: read_json(osp.join(work, n, 'seed0', 'result.json'))
            for n in ('teacher', 'baseline', 'kd')}
    assert record['teacher_map'] == runs['teacher']['mAP']
    assert record['variants']['baseline']['map'] == [runs['baseline']['mAP']]
    assert record['kd_map_mean'] == runs['kd']['mAP'] and record['kd_map_std'] is None
    assert record['complete'] and record['seeds'] == [0] and record['device']
    assert record['command'].startswith('python benchmarks/bccd_accuracy.py --quick')
    kd_config = open(osp.join(work, 'kd', 'seed0', 'config.py')).read()
    assert runs['teacher']['checkpoint'] in kd_config  # the teacher it trained
    assert runs['kd']['teacher_check']['num_images'] == 2  # the check ran, on the val split
    with open(osp.join(work, 'RESULTS.md')) as f:  # generated from the work dir's record
        text = f.read()
    assert text.startswith('# mmkd benchmark records\n')
    assert '## Does distillation help on real data? (BCCD, 1 seed)\n' in text
    assert f"```\n{record['command']}\n```" in text
    kd_map = runs['kd']['mAP']
    assert f'| kd | distilled, all terms (mmkd defaults) | {kd_map:.1f} | {kd_map:.1f} |' in text


def test_missing_data_stops_before_any_training(tmp_path):
    with pytest.raises(SystemExit, match=f"BCCD annotations '{tmp_path}/annotations/"
                       "trainval.json' not found: give --data-root"):
        bench.main(['--data-root', str(tmp_path), '--work-dir', str(tmp_path / 'w')])
    assert not osp.exists(tmp_path / 'w')
