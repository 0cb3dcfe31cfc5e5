"""Training-step overhead of distillation: what the teacher costs per step.

Times, in one process on identical inputs (random weights, COCO's 80 classes):
  student   plain mmdet Faster R-CNN R-18-FPN train step
  kd        mmkd R-50 -> R-18 train step (configs/kd_faster_rcnn_r50_r18.py)
  kd_no_diagnostics  the same step with ``diagnostics=False`` (no kd_* agreement values)
  teacher   the R-50 teacher's backbone + neck + RPN + R-CNN head forward, no grad
  ld_student, ld  the peer: plain GFL R-18 step and mmdet's LD (GFL R-101 -> R-18) step
Models run in turn, step by step (A B C, B C A, C A B ...), so drift hits all alike; the median over
``--steps`` after ``--warmup`` is reported, with peak GPU memory per model.

With ``--floor``, the step against its floor instead, for the configs the demo and the BCCD
study train (their batch, input size, heads and classes): the distilled step against the
student's own step plus the teacher's no-grad forward of that step (features, RPN on every
anchor where the RPN is distilled, R-CNN head on the RoIs the student samples). Both students
start from the same weights and keep them (learning rate 0), so they propose the same boxes:
NMS costs what the boxes make it cost. What the distillation adds beyond the teacher's forward
(its losses, the sampling it shares) is the step over its floor, taken round by round (median
and 95% interval); the target is 3%.

    python benchmarks/overhead.py --device cuda --sizes 2x800x1216 8x480x640 \
        --out benchmarks/overhead_gpu.json
    python benchmarks/overhead.py --device cpu --sizes 1x320x480 --steps 5   # no GPU
    python benchmarks/overhead.py --device cpu --floor demo bccd --steps 400 \
        --results benchmarks/results.json          # record overhead_floor, about 17 min
"""
import argparse
import json
import math
import os.path as osp
import statistics
import sys
import time
from typing import Callable, Dict, List, Tuple

import mmdet
import torch
from mmdet.registry import MODELS
from mmdet.structures.bbox import bbox2roi
from mmdet.testing import demo_mm_inputs
from mmdet.utils import register_all_modules
from mmengine.config import Config
from mmengine.hub import get_config
from mmengine.optim import build_optim_wrapper
from results_md import heading, write_results_md

import mmkd  # noqa: F401
from mmkd.detectors.kd_two_stage import _scale_rois
from mmkd.detectors.mmdet_internals import sample_rois
from mmkd.experiments.records import environment, write_json_section

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
MIM_CONFIGS = osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs')
R18_NECK = [64, 128, 256, 512]
QUESTION = 'What does the teacher cost per training step?'  # the record's title
FLOOR_QUESTION = 'Is the distilled step at its floor, the student step plus the teacher forward?'
# --floor: (distilled config, the student's own config) of the demo and of the BCCD study
FLOOR_PAIRS = dict(
    demo=('configs/demo/kd_faster_rcnn_r50_r18_shapes.py',
          'configs/demo/faster-rcnn_r18_fpn_shapes.py'),
    bccd=('benchmarks/configs/bccd/cpu/kd_faster-rcnn_r50-r18_fpn_3e_bccd-256x192.py',
          'benchmarks/configs/bccd/cpu/faster-rcnn_r18_fpn_3e_bccd-256x192.py'))
FLOOR_TARGET = 1.03


def model_configs(peer: bool) -> Dict[str, Config]:
    """Configs with random weights (no download)."""
    kd = Config.fromfile(osp.join(ROOT, 'configs', 'kd_faster_rcnn_r50_r18.py'))
    kd.model.update(teacher_ckpt=None)
    kd.model.backbone.init_cfg = None
    student = get_config('mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py')
    student.model.backbone.update(depth=18, init_cfg=None)
    student.model.neck.in_channels = R18_NECK
    no_diagnostics = kd.copy()
    no_diagnostics.model = dict(kd.model, diagnostics=False)
    cfgs = dict(student=student, kd=kd, kd_no_diagnostics=no_diagnostics)
    if peer:
        ld = get_config('mmdet::ld/ld_r18-gflv1-r101_fpn_1x_coco.py')
        ld.model.update(
            teacher_config=osp.join(MIM_CONFIGS, 'gfl', 'gfl_r101_fpn_ms-2x_coco.py'),
            teacher_ckpt=None)
        ld.model.backbone.init_cfg = None
        gfl = get_config('mmdet::gfl/gfl_r50_fpn_1x_coco.py')
        gfl.model.backbone.update(depth=18, init_cfg=None)
        gfl.model.neck.in_channels = R18_NECK
        cfgs.update(ld_student=gfl, ld=ld)
    return cfgs


def train_step_fn(cfg: Config, device: str, amp: bool) -> Callable[[dict], None]:
    return model_step_fn(MODELS.build(cfg.model).to(device), cfg, amp)


def model_step_fn(model: torch.nn.Module, cfg: Config,
                  amp: bool) -> Callable[[dict], None]:
    """``model``'s training step with the config's optimizer (mixed precision on request)."""
    model.train()
    optim_cfg = dict(cfg.optim_wrapper)
    if amp:
        optim_cfg.update(type='AmpOptimWrapper', loss_scale='dynamic')
    optim = build_optim_wrapper(model, optim_cfg)
    return lambda data: model.train_step(data, optim)


def teacher_forward_fn(kd_cfg: Config, device: str, amp: bool) -> Callable[[dict], None]:
    """The distillation step's teacher work alone: features, RPN, R-CNN on 512 RoIs/img."""
    teacher = MODELS.build(kd_cfg.model).teacher.to(device)

    @torch.no_grad()
    def forward(data: dict) -> None:
        with torch.autocast(device_type=device.split(':')[0], enabled=amp):
            data = teacher.data_preprocessor(data, True)
            x = teacher.extract_feat(data['inputs'])
            teacher.rpn_head(x)
            num_imgs, (h, w) = len(data['data_samples']), data['inputs'].shape[-2:]
            teacher.roi_head._bbox_forward(x, random_rois(num_imgs, 512, h, w, x[0].device))

    return forward


def random_rois(num_imgs: int, per_img: int, h: int, w: int, device) -> torch.Tensor:
    """``per_img`` boxes of 32 px and more in each of ``num_imgs`` images, as (img, x1..y2)."""
    rois = torch.rand(num_imgs * per_img, 5, device=device)
    rois[:, 0] = torch.arange(num_imgs, device=device).repeat_interleave(per_img)
    rois[:, 1:3] *= rois.new_tensor([w / 2, h / 2])
    rois[:, 3:5] = rois[:, 1:3] + 32 + rois[:, 3:5] * rois.new_tensor([w / 2, h / 2])
    return rois


def fake_batch(batch: int, height: int, width: int, seed: int = 0,
               num_classes: int = 80) -> dict:
    torch.manual_seed(seed)
    return demo_mm_inputs(batch, [[3, height, width]] * batch, num_items=[8] * batch,
                          num_classes=num_classes)


def floor_configs(pair: str) -> Dict[str, Config]:
    """The pair's distilled and student configs, random weights (the teacher's too), with a
    learning rate of 0: the optimizer does all its work, the weights stay as they start."""
    kd_file, student_file = (osp.join(ROOT, f) for f in FLOOR_PAIRS[pair])
    kd, student = Config.fromfile(kd_file), Config.fromfile(student_file)
    for cfg in (kd, student):
        cfg.model.backbone.init_cfg = None
        cfg.optim_wrapper.optimizer.lr = 0.0
    kd.model.teacher_ckpt = None
    return dict(student=student, kd=kd)


def floor_batch(cfg: Config) -> dict:
    """A batch of the config's training size: its batch size, its Resize scale, its classes."""
    width, height = next(t.scale for t in cfg.train_dataloader.dataset.pipeline
                         if t.type == 'Resize')
    return fake_batch(cfg.train_dataloader.batch_size, height, width,
                      num_classes=cfg.model.roi_head.bbox_head.num_classes)


def same_student(kd: torch.nn.Module, student: torch.nn.Module) -> None:
    """Give the plain ``student`` the distilled model's student weights (the heads it
    inherited included), so both propose the same boxes: NMS and sampling cost as much."""
    own = student.state_dict()
    weights = {k: v for k, v in kd.state_dict().items() if k in own}
    if set(weights) != set(own) or any(weights[k].shape != own[k].shape for k in own):
        raise ValueError('the student config does not build the distilled config\'s student')
    student.load_state_dict(weights)


def teacher_step_fn(model: torch.nn.Module) -> Callable[[dict], None]:
    """The teacher's work in one step of the distilled ``model``, on the batch the step
    preprocesses: features, RPN (where distilled) and R-CNN head on the RoIs the student
    samples (its own RPN, proposals and sampler, once per batch, untimed: the student's
    work)."""
    model.train()  # the teacher stays in eval (eval_teacher)
    cache = {}

    @torch.no_grad()
    def forward(data: dict) -> None:
        if id(data) not in cache:  # preprocessing and sampling belong to the student's step
            processed = model.data_preprocessor(data, True)
            inputs = model._teacher_inputs(processed['inputs'])
            student_inputs, samples = model._student_batch(inputs, processed['data_samples'])
            x = model.extract_feat(student_inputs)
            proposals = model.rpn_head.predict_by_feat(
                *model.rpn_head(x), batch_img_metas=[s.metainfo for s in samples],
                cfg=model.train_cfg.get('rpn_proposal', model.test_cfg.rpn))
            sampled = sample_rois(model.roi_head, x, proposals, samples)
            rois = _scale_rois(bbox2roi([r.priors for r in sampled]), model.student_downsample)
            labels = model.roi_head.bbox_head.get_targets(sampled, model.roi_head.train_cfg)[0]
            cache[id(data)] = (inputs, rois, labels, [s.metainfo for s in samples])
        inputs, rois, labels, metas = cache[id(data)]
        teacher_x = model.teacher.extract_feat(inputs)
        if model.distill_rpn:
            model.teacher.rpn_head(teacher_x)
        model.roi_teacher(teacher_x, rois, model._target_classes(labels), metas,
                          with_feats=model.loss_hint_roi is not None)

    return forward


def measure_floor(pair: str, device: str, steps: int, warmup: int) -> dict:
    """Student step, teacher forward and distilled step of ``pair``, timed in turn. The
    distilled step over its floor is taken round by round (each round's distilled step over
    that round's student step plus teacher forward, so drift cancels): its median and a 95%
    confidence interval; the target is met when the interval's top is within it."""
    cfgs = floor_configs(pair)
    kd, student = (MODELS.build(cfgs[name].model).to(device) for name in ('kd', 'student'))
    same_student(kd, student)
    fns = dict(student=model_step_fn(student, cfgs['student'], amp=False),
               kd=model_step_fn(kd, cfgs['kd'], amp=False), teacher=teacher_step_fn(kd))
    data = floor_batch(cfgs['kd'])
    res = measure(fns, data, steps, warmup, device)
    times = {name: r.pop('times_s') for name, r in res.items()}
    per_round = [step / (own + forward) for step, own, forward in zip(
        times['kd'], times['student'], times['teacher'])]
    low, over, high = median_ci95(per_round)
    floor = res['student']['median_s'] + res['teacher']['median_s']
    batch = data['inputs'][0].shape
    return dict(models=res, batch=len(data['inputs']), size=f'{batch[1]}x{batch[2]}',
                floor_s=floor, over_floor=over, over_floor_ci95=[low, high],
                within_target=high <= FLOOR_TARGET)


def floor_markdown(record: dict, name: str = 'overhead_floor') -> str:
    """The floor record's section of RESULTS.md: one line per pair."""
    lines = heading(name, record, f"Medians of {record['steps']} steps after warm-up; over the "
                    'floor: the median of the per-round ratios, with its 95% confidence '
                    f"interval; target: within {100 * (FLOOR_TARGET - 1):.0f}% of the floor.")
    lines += ['| config | batch, size | student step | teacher forward | floor | distilled '
              'step | over the floor | 95% interval |', '|---|---|---|---|---|---|---|---|']
    for pair, r in record['pairs'].items():
        ms = {k: f"{1000 * v['median_s']:.0f} ms" for k, v in r['models'].items()}
        ci = ' to '.join(f'{100 * (v - 1):+.1f}%' for v in r['over_floor_ci95'])
        lines.append(f"| {pair} | {r['batch']}, {r['size']} | {ms['student']} | "
                     f"{ms['teacher']} | {1000 * r['floor_s']:.0f} ms | {ms['kd']} | "
                     f"{100 * (r['over_floor'] - 1):+.1f}% | {ci} |")
    return '\n'.join(lines) + '\n'


def measure(fns: Dict[str, Callable], data: dict, steps: int, warmup: int,
            device: str) -> Dict[str, dict]:
    """Each model's step ``warmup + steps`` times, in turn; the order rotates every round, so
    no model always runs after the same one. Per model: median, min, max and every timed
    step (``times_s``, round by round), peak GPU memory."""
    cuda = device.startswith('cuda')
    times: Dict[str, List[float]] = {name: [] for name in fns}
    peak: Dict[str, int] = {name: 0 for name in fns}
    names = list(fns)
    for step in range(warmup + steps):
        for name in names[step % len(names):] + names[:step % len(names)]:
            if cuda:
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
            start = time.perf_counter()
            fns[name](data)
            if cuda:
                torch.cuda.synchronize()
                peak[name] = max(peak[name], torch.cuda.max_memory_allocated())
            if step >= warmup:
                times[name].append(time.perf_counter() - start)
    return {
        name: dict(median_s=statistics.median(t), min_s=min(t), max_s=max(t), times_s=t,
                   peak_mem_mib=peak[name] / 2**20 if cuda else None)
        for name, t in times.items()
    }


def median_ci95(values: List[float]) -> Tuple[float, float, float]:
    """Median and a distribution-free 95% confidence interval for it (order statistics of
    the binomial, normal approximation): ``(low, median, high)``."""
    ordered, n = sorted(values), len(values)
    half = 1.96 * math.sqrt(n) / 2
    # 1-based ranks n/2 - half (down) and 1 + n/2 + half (up), as 0-based indices
    low, high = max(0, math.floor(n / 2 - half) - 1), min(n - 1, math.ceil(n / 2 + half))
    return ordered[low], statistics.median(ordered), ordered[high]


def ratios(res: Dict[str, dict]) -> dict:
    out = dict(step_ratio=res['kd']['median_s'] / res['student']['median_s'],
               teacher_share=res['teacher']['median_s'] / res['student']['median_s'],
               diagnostics_ratio=res['kd']['median_s'] / res['kd_no_diagnostics']['median_s'])
    if res['kd']['peak_mem_mib']:
        out['memory_ratio'] = res['kd']['peak_mem_mib'] / res['student']['peak_mem_mib']
    if 'ld' in res:
        out['peer_ld_step_ratio'] = res['ld']['median_s'] / res['ld_student']['median_s']
        if res['ld']['peak_mem_mib']:
            out['peer_ld_memory_ratio'] = \
                res['ld']['peak_mem_mib'] / res['ld_student']['peak_mem_mib']
    return out


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--sizes', nargs='+', default=['2x800x1216', '8x480x640'],
                        help='BATCHxHEIGHTxWIDTH, one or more')
    parser.add_argument('--steps', type=int, default=50)
    parser.add_argument('--warmup', type=int, default=10)
    parser.add_argument('--amp', action='store_true', help='mixed precision for all')
    parser.add_argument('--no-peer', action='store_true', help='skip mmdet LD / GFL')
    parser.add_argument('--out', help='write the results as JSON here')
    parser.add_argument('--floor', nargs='+', choices=list(FLOOR_PAIRS),
                        help="the distilled step against student step + teacher forward, for "
                        "these configs' sizes (record overhead_floor)")
    parser.add_argument('--results', help="merge the headline ratios into this file's "
                        "'overhead' section (benchmarks/results.json) and regenerate "
                        'RESULTS.md beside it')
    parser.add_argument('--section', help='the record in --results (default: overhead, '
                        'with --floor overhead_floor)')
    return parser.parse_args()


def headline(report: dict, command: str) -> dict:
    """``overhead.*`` of results.json: the first size gives ``step_ratio`` (the GPU target's
    batch 2, 800x1216), the second ``step_ratio_b8`` (batch 8, 640x480); ``sizes`` says which."""
    sizes = list(report['sizes'])
    first = report['sizes'][sizes[0]]
    out = dict(question=f"{QUESTION} ({report['device']})", device=report['device'],
               versions=report['versions'], date=report['date'], amp=report['amp'],
               steps=report['steps'], sizes=sizes, command=command,
               step_ratio=first['step_ratio'], memory_ratio=first.get('memory_ratio'),
               peer_ld_step_ratio=first.get('peer_ld_step_ratio'),
               teacher_share=first['teacher_share'],
               diagnostics_ratio=first['diagnostics_ratio'])
    if len(sizes) > 1:
        second = report['sizes'][sizes[1]]
        out.update(step_ratio_b8=second['step_ratio'],
                   memory_ratio_b8=second.get('memory_ratio'),
                   peer_ld_step_ratio_b8=second.get('peer_ld_step_ratio'))
    return out


def markdown(record: dict, name: str = 'overhead') -> str:
    """The record's section of RESULTS.md: heading and the ratios per batch and size."""
    suffixes = ('', '_b8')[:len(record['sizes'])]
    lines = heading(name, record, f"Medians of {record['steps']} steps after warm-up, "
                    f"mixed precision {'on' if record['amp'] else 'off'}.")
    lines += ['| batch, size | step, distilled / student | peak memory, distilled / student '
              '| step, LD / GFL student |', '|---|---|---|---|']
    for size, suffix in zip(record['sizes'], suffixes):
        batch, hw = size.split('x', 1)
        cells = [_ratio(record.get(f'{key}{suffix}'))
                 for key in ('step_ratio', 'memory_ratio', 'peer_ld_step_ratio')]
        lines.append(f"| {batch}, {hw} | {' | '.join(cells)} |")
    lines += ['', f"At {record['sizes'][0]}: the teacher's forward alone took "
              f"{record['teacher_share']:.2f}x the student's step; the step with the "
              f"diagnostics on took {record['diagnostics_ratio']:.3f}x the step without."]
    return '\n'.join(lines) + '\n'


def _ratio(value) -> str:
    return 'not measured' if value is None else f'{value:.2f}'


def main_floor(args: argparse.Namespace) -> None:
    report = dict(question=f'{FLOOR_QUESTION} ({environment()["device"]})', **environment(),
                  steps=args.steps, warmup=args.warmup, pairs={},
                  command='python benchmarks/overhead.py ' + ' '.join(sys.argv[1:]))
    for pair in args.floor:
        result = measure_floor(pair, args.device, args.steps, args.warmup)
        report['pairs'][pair] = result
        print(f"== {pair}: batch {result['batch']}, {result['size']}, {report['device']}")
        for name, r in result['models'].items():
            print(f"  {name:<8} {r['median_s'] * 1000:8.1f} ms  (min {r['min_s'] * 1000:.1f},"
                  f" max {r['max_s'] * 1000:.1f})")
        low, high = (100 * (v - 1) for v in result['over_floor_ci95'])
        print(f"  floor {result['floor_s'] * 1000:.1f} ms, distilled step "
              f"{100 * (result['over_floor'] - 1):+.1f}% over it (95%: {low:+.1f}% to "
              f"{high:+.1f}%)")
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(report, f, indent=2)
    if args.results:
        write_json_section(args.results, args.section or 'overhead_floor', report)
        write_results_md(args.results)


def main() -> None:
    args = parse_args()
    register_all_modules()
    if args.floor:
        return main_floor(args)
    cfgs = model_configs(peer=not args.no_peer)
    fns = {name: train_step_fn(cfg, args.device, args.amp) for name, cfg in cfgs.items()}
    fns['teacher'] = teacher_forward_fn(cfgs['kd'], args.device, args.amp)
    report = dict(environment(), amp=args.amp, steps=args.steps, warmup=args.warmup, sizes={})
    for size in args.sizes:
        batch, height, width = (int(v) for v in size.split('x'))
        res = measure(fns, fake_batch(batch, height, width), args.steps, args.warmup,
                      args.device)
        report['sizes'][size] = dict(models=res, **ratios(res))
        print(f"== batch {batch}, {height}x{width}, {report['device']}")
        for name, r in res.items():
            mem = f"{r['peak_mem_mib']:.0f} MiB" if r['peak_mem_mib'] else '-'
            print(f"  {name:<11} {r['median_s'] * 1000:8.1f} ms  (min {r['min_s'] * 1000:.1f},"
                  f" max {r['max_s'] * 1000:.1f})  peak {mem}")
        print('  ' + ', '.join(f'{k} {v:.3f}' for k, v in ratios(res).items()))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(report, f, indent=2)
    if args.results:
        command = 'python benchmarks/overhead.py ' + ' '.join(sys.argv[1:])
        write_json_section(args.results, args.section or 'overhead', headline(report, command))
        write_results_md(args.results)


if __name__ == '__main__':
    main()
