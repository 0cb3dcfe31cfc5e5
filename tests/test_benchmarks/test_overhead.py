import json
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmdet.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'benchmarks'))
import overhead  # noqa: E402


def test_ratios_are_medians_over_the_student():
    res = dict(student=dict(median_s=0.1, peak_mem_mib=100.0),
               kd=dict(median_s=0.108, peak_mem_mib=115.0),
               teacher=dict(median_s=0.02, peak_mem_mib=50.0),
               ld_student=dict(median_s=0.2, peak_mem_mib=200.0),
               ld=dict(median_s=0.22, peak_mem_mib=240.0),
               kd_no_diagnostics=dict(median_s=0.1, peak_mem_mib=114.0))
    out = overhead.ratios(res)
    assert out['step_ratio'] == pytest.approx(1.08)
    assert out['memory_ratio'] == pytest.approx(1.15)
    assert out['teacher_share'] == pytest.approx(0.2)
    assert out['peer_ld_step_ratio'] == pytest.approx(1.1)
    assert out['peer_ld_memory_ratio'] == pytest.approx(1.2)
    assert out['diagnostics_ratio'] == pytest.approx(1.08)


def test_cpu_run_times_every_model_on_the_same_input(tmp_path):
    out = tmp_path / 'overhead.json'
    results = tmp_path / 'results.json'
    results.write_text(json.dumps(dict(accuracy=dict(kd_map_mean=1.0))))
    subprocess.run(
        [sys.executable, osp.join(ROOT, 'benchmarks', 'overhead.py'), '--device', 'cpu',
         '--sizes', '1x64x96', '2x64x64', '--steps', '1', '--warmup', '0', '--no-peer',
         '--out', str(out), '--results', str(results)],
        check=True, capture_output=True, env=dict(osp.os.environ, OMP_NUM_THREADS='1'))
    report = json.loads(out.read_text())
    size = report['sizes']['1x64x96']
    assert set(size['models']) == {'student', 'kd', 'kd_no_diagnostics', 'teacher'}
    assert all(m['median_s'] > 0 for m in size['models'].values())
    assert size['step_ratio'] == pytest.approx(
        size['models']['kd']['median_s'] / size['models']['student']['median_s'])
    assert report['device'].startswith('CPU')
    merged = json.loads(results.read_text())
    assert merged['accuracy'] == dict(kd_map_mean=1.0)  # other sections kept
    assert merged['overhead']['step_ratio'] == size['step_ratio']
    assert merged['overhead']['step_ratio_b8'] == report['sizes']['2x64x64']['step_ratio']
    assert merged['overhead']['sizes'] == ['1x64x96', '2x64x64']
    text = (tmp_path / 'RESULTS.md').read_text()  # regenerated beside the results
    assert f"## What does the teacher cost per training step? ({report['device']})\n" in text
    assert f"| 1, 64x96 | {size['step_ratio']:.2f} | not measured | not measured |" in text
    assert '## accuracy\n' in text  # a record of no known kind: titled by its name


def test_peer_is_mmdets_ld_gfl_r101_to_r18_against_plain_gfl_r18():
    cfgs = overhead.model_configs(peer=True)
    assert cfgs['ld'].model.type == 'KnowledgeDistillationSingleStageDetector'
    assert cfgs['ld'].model.backbone.depth == 18 and cfgs['ld'].model.teacher_ckpt is None
    assert cfgs['ld'].model.teacher_config.endswith('gfl_r101_fpn_ms-2x_coco.py')
    assert cfgs['ld_student'].model.type == 'GFL' and cfgs['ld_student'].model.backbone.depth == 18


def test_floor_times_the_teacher_on_the_rois_the_student_samples_at_the_configs_size():
    cfgs = overhead.floor_configs('bccd')
    assert cfgs['kd'].model.type == 'KnowledgeDistillationTwoStageDetector'
    assert cfgs['student'].model.type == 'FasterRCNN'
    data = overhead.floor_batch(cfgs['kd'])
    assert len(data['inputs']) == 2 and data['inputs'][0].shape == (3, 192, 256)
    model = MODELS.build(cfgs['kd'].model)
    forward = overhead.teacher_step_fn(model)
    calls = []
    model.roi_teacher = lambda x, rois, labels, metas, with_feats: calls.append(
        (len(x), rois.shape, labels.shape, len(metas), with_feats))
    forward(data)
    # five FPN levels; the 64 RoIs per image that the student's sampler draws
    assert calls == [(5, (128, 5), (128, ), 2, False)]


def test_floor_students_start_alike_and_keep_their_weights():
    cfgs = overhead.floor_configs('demo')
    assert cfgs['kd'].optim_wrapper.optimizer.lr == cfgs['student'].optim_wrapper.optimizer.lr == 0
    kd, student = (MODELS.build(cfgs[name].model) for name in ('kd', 'student'))
    overhead.same_student(kd, student)
    data = overhead.floor_batch(cfgs['kd'])
    before = {k: v.clone() for k, v in student.state_dict().items()}
    assert all(torch.equal(v, kd.state_dict()[k]) for k, v in before.items())
    overhead.model_step_fn(student, cfgs['student'], amp=False)(data)
    assert all(torch.equal(v, student.state_dict()[k]) for k, v in before.items()
               if 'running' not in k and 'num_batches' not in k)  # batch-norm statistics move
    cfgs['student'].model.backbone.depth = 50
    with pytest.raises(ValueError, match="does not build the distilled config's student"):
        overhead.same_student(kd, MODELS.build(cfgs['student'].model))


def test_floor_record_in_results_md():
    record = dict(question='Is the distilled step at its floor? (CPU, 2 cores)', steps=30,
                  pairs=dict(bccd=dict(batch=2, size='192x256', floor_s=0.5, over_floor=1.02,
                                       over_floor_ci95=[0.995, 1.031],
                                       models=dict(student=dict(median_s=0.3),
                                                   teacher=dict(median_s=0.2),
                                                   kd=dict(median_s=0.51)))))
    text = overhead.floor_markdown(record)
    assert ('| bccd | 2, 192x256 | 300 ms | 200 ms | 500 ms | 510 ms | +2.0% | -0.5% to +3.1% |'
            in text)
    sys.path.insert(0, osp.join(ROOT, 'benchmarks'))
    from results_md import renderer
    assert renderer(record) is overhead.floor_markdown


def test_models_take_turns_first_and_the_floor_is_taken_round_by_round(monkeypatch):
    order, clock = [], iter(range(1000))
    monkeypatch.setattr(overhead.time, 'perf_counter', lambda: next(clock))
    fns = {name: (lambda data, name=name: order.append(name)) for name in 'abc'}
    res = overhead.measure(fns, {}, steps=3, warmup=1, device='cpu')
    assert order == list('abcbcacababc')  # each round starts one model later
    assert res['a']['times_s'] == [1, 1, 1] and res['a']['median_s'] == 1


def test_median_interval_is_distribution_free_order_statistics():
    values = [float(v) for v in range(1, 101)]  # 100 rounds: the 40th and 61st values
    assert overhead.median_ci95(values) == (40.0, 50.5, 61.0)
    assert overhead.median_ci95([3.0, 1.0, 2.0]) == (1.0, 2.0, 3.0)  # too few: the range
