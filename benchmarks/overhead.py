"""Training-step overhead of distillation: what the teacher costs per step.

Times, in one process on identical inputs (random weights, COCO's 80 classes):
  student   plain mmdet Faster R-CNN R-18-FPN train step
  kd        mmkd R-50 -> R-18 train step (configs/kd_faster_rcnn_r50_r18.py)
  kd_no_diagnostics  the same step with ``diagnostics=False`` (no kd_* agreement values)
  teacher   the R-50 teacher's backbone + neck + RPN + R-CNN head forward, no grad
  ld_student, ld  the peer: plain GFL R-18 step and mmdet's LD (GFL R-101 -> R-18) step
Models run in turn, step by step (A B C A B C ...), so drift hits all alike; the median over
``--steps`` after ``--warmup`` is reported, with peak GPU memory per model.

    python benchmarks/overhead.py --device cuda --sizes 2x800x1216 8x480x640 \
        --out benchmarks/overhead_gpu.json
    python benchmarks/overhead.py --device cpu --sizes 1x320x480 --steps 5   # no GPU
"""
import argparse
import json
import os.path as osp
import statistics
import sys
import time
from typing import Callable, Dict, List

import mmdet
import torch
from mmdet.registry import MODELS
from mmdet.testing import demo_mm_inputs
from mmdet.utils import register_all_modules
from mmengine.config import Config
from mmengine.hub import get_config
from mmengine.optim import build_optim_wrapper
from results_md import heading, write_results_md

import mmkd  # noqa: F401
from mmkd.experiments.records import environment, write_json_section

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
MIM_CONFIGS = osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs')
R18_NECK = [64, 128, 256, 512]
QUESTION = 'What does the teacher cost per training step?'  # the record's title


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
    model = MODELS.build(cfg.model).to(device)
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
            rois = torch.rand(num_imgs * 512, 5, device=x[0].device)
            rois[:, 0] = torch.arange(num_imgs, device=rois.device).repeat_interleave(512)
            rois[:, 1:3] *= rois.new_tensor([w / 2, h / 2])
            rois[:, 3:5] = rois[:, 1:3] + 32 + rois[:, 3:5] * rois.new_tensor([w / 2, h / 2])
            teacher.roi_head._bbox_forward(x, rois)

    return forward


def fake_batch(batch: int, height: int, width: int, seed: int = 0) -> dict:
    torch.manual_seed(seed)
    return demo_mm_inputs(batch, [[3, height, width]] * batch, num_items=[8] * batch,
                          num_classes=80)


def measure(fns: Dict[str, Callable], data: dict, steps: int, warmup: int,
            device: str) -> Dict[str, dict]:
    cuda = device.startswith('cuda')
    times: Dict[str, List[float]] = {name: [] for name in fns}
    peak: Dict[str, int] = {name: 0 for name in fns}
    for step in range(warmup + steps):
        for name, fn in fns.items():
            if cuda:
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
            start = time.perf_counter()
            fn(data)
            if cuda:
                torch.cuda.synchronize()
                peak[name] = max(peak[name], torch.cuda.max_memory_allocated())
            if step >= warmup:
                times[name].append(time.perf_counter() - start)
    return {
        name: dict(median_s=statistics.median(t), min_s=min(t), max_s=max(t),
                   peak_mem_mib=peak[name] / 2**20 if cuda else None)
        for name, t in times.items()
    }


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
    parser.add_argument('--results', help="merge the headline ratios into this file's "
                        "'overhead' section (benchmarks/results.json) and regenerate "
                        'RESULTS.md beside it')
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


def main() -> None:
    args = parse_args()
    register_all_modules()
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
        write_json_section(args.results, 'overhead', headline(report, command))
        write_results_md(args.results)


if __name__ == '__main__':
    main()
