"""RESULTS.md is generated from results.json: sections from hand-made records, every real
record renders, and the committed RESULTS.md is what the generator makes of results.json."""
import json
import os.path as osp
import re
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'benchmarks'))
import results_md  # noqa: E402

from mmkd.experiments.records import read_json  # noqa: E402

RESULTS = osp.join(ROOT, 'benchmarks', 'results.json')
VERSIONS = dict(Python='3.11.7', PyTorch='2.13.0+cpu')


def variant(description, maps, gain=None, closed=None):
    v = dict(description=description, map=maps, map_50=[m + 30 for m in maps])
    if gain is not None:
        v.update(gain=gain, gap_closed=closed)
    return v


HAND_MADE = dict(
    accuracy=dict(
        question='Does distillation help? (BCCD, 2 seeds)', answer='Yes, by 6.5 mAP.',
        command='python benchmarks/bccd_accuracy.py --seeds 0 1', device='CPU, 2 cores',
        versions=VERSIONS, date='2026-12-02', setting='cpu', gap_made_by='depth and schedule',
        dataset='BCCD test split', complete=True, unfinished={}, teacher_map=51.0,
        teacher_map_50=80.0, teachers=dict(teacher=dict(mAP=51.0, mAP_50=80.0),
                                           teacher_cascade=dict(mAP=53.0, mAP_50=82.0)),
        variants=dict(baseline=variant('student alone', [41.0, 43.0]),
                      kd=variant('distilled', [48.0, 49.0], 6.5, 0.7222)),
        targets=dict(gain_at_least_1_5=True, teacher_ahead_by_5=False),
        note="`kd` here is today's `kd_paper`."),
    old_study=dict(  # made before records had teachers, questions and answers
        command='python benchmarks/bccd_accuracy.py --section old_study', device='CPU, 2 cores',
        versions=VERSIONS, date='2026-11-30', setting='cpu', gap_made_by='depth',
        dataset='BCCD test split', complete=False, unfinished={'kd/seed1': 'failed'},
        teacher_map=56.8, teacher_map_50=90.0, variants=dict(
            baseline=variant('student alone', [50.0]),
            kd=variant('distilled', [52.0], 2.0, 0.2941)), targets=None),
    demo=dict(
        question="Does distillation help on the demo's shapes? (2 seeds)",
        command='python tools/demo.py --seeds 0 1', device='CPU, 2 cores', versions=VERSIONS,
        date='2026-12-01', seeds=[0, 1], teacher_map=[15.5, 15.5], baseline_map=[2.1, 2.6],
        kd_map=[9.0, 8.0], teacher_map_50=28.0, baseline_map_50=[7.2, 8.9],
        kd_map_50=[17.0, 15.0]),
    demo_make=dict(
        command='make demo', device='CPU, 2 cores', date='2026-12-01', seeds=[0],
        teacher_map=[12.8], baseline_map=[2.8], kd_map=[6.1], teacher_map_50=24.0,
        baseline_map_50=[7.9], kd_map_50=[13.6],
        train_s=dict(teacher=337.3, student=71.0, distilled=102.3),
        wall_s=dict(setup=84, demo=574, total=658)),
    overhead=dict(
        question='What does the teacher cost per training step? (CPU, 2 cores)',
        command='python benchmarks/overhead.py --device cpu --no-peer', device='CPU, 2 cores',
        versions=VERSIONS, date='2026-11-30', amp=False, steps=5,
        sizes=['2x320x480', '4x240x320'], step_ratio=1.4501, memory_ratio=None,
        peer_ld_step_ratio=None, teacher_share=0.432, diagnostics_ratio=0.9853,
        step_ratio_b8=1.0912, memory_ratio_b8=1.18, peer_ld_step_ratio_b8=None),
    other=dict(date='2026-12-03', device='GPU', speed=3.5, per_size=dict(a=1)),
)


def sections(text: str) -> dict:
    """``{title: lines}`` of the ``## `` sections of ``text``."""
    parts = re.split(r'^## (.*)$', text, flags=re.M)
    return {title: body.strip().splitlines() for title, body in zip(parts[1::2], parts[2::2])}


def test_sections_from_hand_made_records_titles_commands_and_rows(tmp_path):
    path = tmp_path / 'results.json'
    path.write_text(json.dumps(HAND_MADE))
    assert results_md.write_results_md(str(path)) == str(tmp_path / 'RESULTS.md')
    text = (tmp_path / 'RESULTS.md').read_text()
    assert text.startswith('# mmkd benchmark records\n\nGenerated from `benchmarks/results.json`')
    assert '- `accuracy`: Does distillation help? (BCCD, 2 seeds)\n- `old_study`: old_study\n' \
        in text
    found = sections(text)
    assert list(found) == ['Does distillation help? (BCCD, 2 seeds)', 'old_study',
                           "Does distillation help on the demo's shapes? (2 seeds)",
                           'demo_make', 'What does the teacher cost per training step? '
                           '(CPU, 2 cores)', 'other']
    accuracy = found['Does distillation help? (BCCD, 2 seeds)']
    assert accuracy[:6] == ['Yes, by 6.5 mAP.', '', '```',
                            'python benchmarks/bccd_accuracy.py --seeds 0 1', '```', '']
    assert accuracy[6].startswith('Record `accuracy`, 2026-12-02, CPU, 2 cores; Python 3.11.7, '
                                  'PyTorch 2.13.0+cpu. Setting `cpu`: depth and schedule.')
    assert "Note: `kd` here is today's `kd_paper`." in accuracy
    assert accuracy[-5:] == [
        '| teacher_cascade | Cascade R-CNN R-50-FPN | 53.0 | 53.0 | 82.0 | | |',
        '| baseline | student alone | 41.0 / 43.0 | 42.0 ± 1.4 | 72.0 ± 1.4 |  |  |',
        '| kd | distilled | 48.0 / 49.0 | 48.5 ± 0.7 | 78.5 ± 0.7 | +6.5 | 72% |', '',
        'Targets: gain_at_least_1_5: yes, teacher_ahead_by_5: NO.']
    old = found['old_study']
    assert '| teacher | Faster R-CNN R-50-FPN | 56.8 | 56.8 | 90.0 | | |' in old  # teacher_map
    assert '| kd | distilled | 52.0 | 52.0 | 82.0 | +2.0 | 29% |' in old
    assert old[-1] == "Incomplete: {'kd/seed1': 'failed'}." and not any(
        line.startswith('Targets') for line in old)
    demo = found["Does distillation help on the demo's shapes? (2 seeds)"]
    assert '| Distilled student: R-18-FPN + mmkd | 9.0 / 8.0 | 8.5 ± 0.7 | 16.0 ± 1.4 |' in demo
    assert '| Teacher: Faster R-CNN R-50-FPN | 15.5 | 15.5 | 28.0 |' in demo
    assert demo[-1] == ('Distillation helped on every seed: seed 0: +6.9 mAP (51% of the gap); '
                        'seed 1: +5.4 mAP (42% of the gap).')
    make = found['demo_make']
    assert make[:3] == ['```', 'make demo', '```']
    assert make[4] == 'Record `demo_make`, 2026-12-01, CPU, 2 cores. Seed 0; the teacher ' \
        'trained once (seed 0).'
    assert '| Student alone: R-18-FPN | 2.8 | 2.8 | 7.9 | 1 min 11 s |' in make
    assert make[-1] == 'Wall time: setup 1 min 24 s, demo 9 min 34 s, total 10 min 58 s.'
    overhead = found['What does the teacher cost per training step? (CPU, 2 cores)']
    assert overhead[-4:] == ['| 2, 320x480 | 1.45 | not measured | not measured |',
                             '| 4, 240x320 | 1.09 | 1.18 | not measured |', '',
                             "At 2x320x480: the teacher's forward alone took 0.43x the "
                             "student's step; the step with the diagnostics on took 0.985x the "
                             'step without.']
    assert 'Medians of 5 steps after warm-up, mixed precision off.' in overhead[4]
    assert found['other'] == ['Record `other`, 2026-12-03, GPU.', '', '| field | value |',
                              '|---|---|', '| speed | 3.5 |']


def test_every_record_renders_with_its_question_and_a_command_a_user_types():
    results = read_json(RESULTS)
    assert 'accuracy' in results and 'overhead' in results and 'demo' in results
    for name, record in results.items():
        text = results_md.renderer(record)(record, name)
        assert record['question'] and text.startswith(f"## {record['question']}\n"), name
        assert f"```\n{record['command']}\n```" in text, name
        assert re.match(r'(python (benchmarks|tools)/\w+\.py|make demo)( |$)',
                        record['command']), name
        assert not re.search(r'--(results|markdown) /', record['command']), name
        table = [line for line in text.splitlines() if line.startswith('| ')]
        if 'variants' in record:  # a header, a row per teacher and one per variant
            teachers = record.get('teachers') or {'teacher': record['teacher_map']}
            assert len(table) == 1 + len(teachers) + len(record['variants']), name
            for variant, v in record['variants'].items():
                assert any(row.startswith(f"| {variant} | {v['description']} | ")
                           for row in table), (name, variant)


def test_committed_results_md_is_generated_from_results_json():
    with open(osp.join(ROOT, 'benchmarks', 'RESULTS.md')) as f:
        committed = f.read()
    assert committed == results_md.render(read_json(RESULTS)), (
        'benchmarks/RESULTS.md is stale: run python benchmarks/results_md.py')
