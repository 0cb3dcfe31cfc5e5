# Copyright (c) mmkd contributors. All rights reserved.
"""The mmkd demo: distillation end to end on a synthetic dataset, in one command.

    make demo                                   # or: python tools/demo.py
    python tools/demo.py --device cuda          # the larger GPU setting
    python tools/demo.py --quick                # a few iterations, to check the pipeline

Stages: generate the shapes dataset (once), train and test the teacher (Faster R-CNN
R-50-FPN), the student baseline (R-18-FPN) and the distilled student (R-18-FPN with
mmkd), then write ``report.md``, ``report.png`` and drawn detections into the work dir.
Training and testing go through mmengine's ``Runner`` as ``tools/train.py`` and
``tools/test.py`` do, on the configs in ``configs/demo/``.

Each stage records its result in ``<stage>.done.json`` with a hash of everything it
depends on (config, data, upstream stages). A rerun skips the stages whose hash still
matches and redoes the others from scratch, so an interrupted demo resumes at the
unfinished stage and a retrained teacher invalidates the distilled student.
"""
import argparse
import hashlib
import json
import os
import os.path as osp
import shutil
import time
import warnings
from functools import partial
from typing import Callable, Dict, List, Optional

import numpy as np

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG_DIR = osp.join(REPO, 'configs', 'demo')

# Data and schedule per setting. The teacher trains twice as long as the students so that
# it is clearly the better detector; the two students share one schedule.
SETTINGS = dict(
    cpu=dict(
        data_root=osp.join(REPO, 'data', 'shapes'), num_train=600, num_test=150,
        teacher_iters=1000, student_iters=500, batch_size=4, num_workers=0,
        log_interval=10),
    cuda=dict(
        data_root=osp.join(REPO, 'data', 'shapes-large'), num_train=4000, num_test=500,
        teacher_iters=8000, student_iters=4000, batch_size=16, num_workers=4,
        log_interval=50),
    quick=dict(
        data_root=None, num_train=8, num_test=4, teacher_iters=3, student_iters=2,
        batch_size=2, num_workers=0, log_interval=1),
)
MODELS = (
    dict(name='teacher', title='Teacher: Faster R-CNN R-50-FPN',
         config='faster-rcnn_r50_fpn_shapes.py', iters='teacher_iters'),
    dict(name='student', title='Student baseline: Faster R-CNN R-18-FPN',
         config='faster-rcnn_r18_fpn_shapes.py', iters='student_iters'),
    dict(name='distilled', title='Distilled student: R-18-FPN + mmkd',
         config='kd_faster_rcnn_r50_r18_shapes.py', iters='student_iters'),
)
NUM_DRAWN = 4
NUM_TIMED = 20


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--device', choices=['cpu', 'cuda'], default=None,
                        help='default: cuda if available, else cpu')
    parser.add_argument('--work-dir', default=osp.join('work_dirs', 'demo'),
                        help='where models, logs and the report go (default: %(default)s)')
    parser.add_argument('--data-root', default=None,
                        help='dataset folder (default: data/shapes, data/shapes-large on '
                        'cuda, <work-dir>/data with --quick)')
    parser.add_argument('--quick', action='store_true',
                        help='tiny data and a few iterations: checks the pipeline only')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.device == 'cpu':  # before CUDA is initialised: mmengine picks cuda when it can
        os.environ['CUDA_VISIBLE_DEVICES'] = ''
    import torch
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    if device == 'cuda' and not torch.cuda.is_available():
        raise SystemExit('--device cuda: no CUDA device is visible to torch; use --device cpu')
    setting = dict(SETTINGS['quick' if args.quick else device])
    work_dir = osp.abspath(args.work_dir)
    setting['data_root'] = osp.abspath(
        args.data_root or setting['data_root'] or osp.join(work_dir, 'data'))
    os.makedirs(work_dir, exist_ok=True)
    start = time.time()
    results = run_pipeline(setting, work_dir)
    path = write_report(results, setting, device, work_dir, time.time() - start)
    print(f'\n[demo] done in {_minutes(time.time() - start)}: {path}\n')
    with open(path) as f:
        print(f.read())


def run_pipeline(setting: dict, work_dir: str) -> Dict[str, dict]:
    """Generate the data, train and test the three models; return their results."""
    from mmkd.datasets import generate_shapes_dataset

    num_stages = 2 * len(MODELS) + 2
    _banner(1, num_stages, f"dataset: {setting['num_train']} + {setting['num_test']} "
            f"synthetic images in {setting['data_root']}")
    data = generate_shapes_dataset(setting['data_root'], setting['num_train'],
                                   setting['num_test'])
    with open(osp.join(data['data_root'], 'complete.json')) as f:  # generation arguments
        keys = dict(data=_hash(data, f.read()))
    results = {}
    for i, spec in enumerate(MODELS):
        name, iters = spec['name'], setting[spec['iters']]
        teacher_ckpt = results['teacher']['checkpoint'] if name == 'distilled' else None
        cfg = build_demo_config(spec, setting, data, osp.join(work_dir, name), teacher_ckpt)
        # a retrained teacher (new result) invalidates the distilled student
        upstream = results['teacher']['train_result'] if name == 'distilled' else None
        keys[f'{name}_train'] = _hash(keys['data'], upstream, cfg.to_dict())
        _banner(2 * i + 2, num_stages, f"{spec['title']}: train {iters} iterations")
        trained = run_stage(osp.join(work_dir, f'{name}.train.done.json'),
                            keys[f'{name}_train'], partial(train, cfg), clean=cfg.work_dir)
        _banner(2 * i + 3, num_stages, f"{spec['title']}: COCO test")
        tested = run_stage(osp.join(work_dir, f'{name}.test.done.json'),
                           _hash(keys[f'{name}_train'], trained),
                           partial(test, cfg, trained['checkpoint']))
        results[name] = dict(spec, iters=iters, cfg=cfg, train_result=trained, **trained,
                             **tested)
    return results


def run_stage(marker: str, key: str, fn: Callable[[], dict],
              clean: Optional[str] = None) -> dict:
    """Return the result recorded in ``marker`` if its key matches, else run ``fn``.

    Args:
        marker (str): JSON file of ``{'key', 'result'}``, written only after success.
        key (str): Hash of everything the stage depends on.
        fn (callable): Runs the stage, returns a JSON-serialisable result.
        clean (str, optional): Folder removed before ``fn`` runs, so that an
            interrupted or outdated run leaves nothing behind.
    """
    try:
        with open(marker) as f:
            done = json.load(f)
        if done['key'] == key:
            print(f'[demo] done before, skipped ({osp.basename(marker)})', flush=True)
            return done['result']
    except (OSError, ValueError, KeyError):
        pass
    if osp.exists(marker):
        os.remove(marker)
    if clean is not None:
        shutil.rmtree(clean, ignore_errors=True)
    result = fn()
    with open(marker + '.tmp', 'w') as f:
        json.dump(dict(key=key, result=result), f, indent=1)
    os.replace(marker + '.tmp', marker)
    return result


def build_demo_config(spec: dict, setting: dict, data: dict, work_dir: str,
                      teacher_ckpt: Optional[str] = None):
    """The model's config in ``configs/demo/``, set to the demo's data and schedule."""
    from mmengine.config import Config

    cfg = Config.fromfile(osp.join(CONFIG_DIR, spec['config']))
    cfg.work_dir = work_dir
    iters = setting[spec['iters']]
    cfg.train_cfg.max_iters = iters
    cfg.train_cfg.val_interval = iters
    cfg.param_scheduler[0].end = max(1, min(cfg.param_scheduler[0].end, iters // 2))
    cfg.param_scheduler[-1].begin = cfg.param_scheduler[0].end
    cfg.param_scheduler[-1].end = iters
    cfg.default_hooks.checkpoint.interval = iters
    cfg.default_hooks.checkpoint.save_optimizer = False  # a stage restarts, never resumes
    cfg.default_hooks.logger.interval = setting['log_interval']
    cfg.log_processor.window_size = setting['log_interval']
    cfg.train_dataloader.batch_size = setting['batch_size']
    for loader in (cfg.train_dataloader, cfg.test_dataloader):
        loader.num_workers = setting['num_workers']
        loader.persistent_workers = setting['num_workers'] > 0
    for split, loader in (('train', cfg.train_dataloader), ('test', cfg.test_dataloader)):
        loader.dataset.data_root = data['data_root']
        loader.dataset.ann_file = data[f'{split}_ann']
        loader.dataset.data_prefix = dict(img=data[f'{split}_img'])
    cfg.test_evaluator.ann_file = osp.join(data['data_root'], data['test_ann'])
    # tested once, after training, by test(): no validation during training
    cfg.val_dataloader = cfg.val_evaluator = cfg.val_cfg = None
    if teacher_ckpt is not None:
        cfg.model.teacher_ckpt = teacher_ckpt
    return cfg


def train(cfg) -> dict:
    """Train as ``tools/train.py`` does; return checkpoint, log dir and wall time."""
    from mmengine.runner import Runner

    runner = Runner.from_cfg(_own_visualizer(cfg))
    start = time.time()
    runner.train()
    train_time = time.time() - start
    checkpoint = osp.join(cfg.work_dir, f'iter_{cfg.train_cfg.max_iters}.pth')
    if not osp.isfile(checkpoint):
        raise RuntimeError(f'training finished without writing {checkpoint}')
    return dict(checkpoint=checkpoint, train_time=train_time,
                scalars=osp.join(runner.log_dir, 'vis_data', 'scalars.json'))


def test(cfg, checkpoint: str) -> dict:
    """COCO test as ``tools/test.py`` does, plus parameters and inference time."""
    from mmengine.runner import Runner

    cfg = _own_visualizer(cfg)
    cfg.load_from = checkpoint
    runner = Runner.from_cfg(cfg)
    metrics = runner.test()
    model = getattr(runner.model, 'module', runner.model)
    # the deployed detector: KD-only modules (adapter, teacher) are not counted
    params = sum(p.numel() for part in (model.backbone, model.neck, model.rpn_head,
                                        model.roi_head) for p in part.parameters())
    return dict(mAP=metrics.get('coco/bbox_mAP', 0.0),
                mAP_50=metrics.get('coco/bbox_mAP_50', 0.0),
                params=params, infer_ms=_inference_ms(runner))


def _inference_ms(runner) -> float:
    """Mean time of ``test_step`` on single test images, after two warm-up images."""
    import torch

    loader = runner.build_dataloader(dict(runner.cfg.test_dataloader, batch_size=1))
    model = runner.model.eval()
    times = []
    with torch.no_grad():
        for i, data in enumerate(loader):
            if i >= NUM_TIMED + 2:
                break
            start = time.perf_counter()
            model.test_step(data)
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            times.append(time.perf_counter() - start)
    return 1000 * float(np.mean(times[2:] or times))


def write_report(results: Dict[str, dict], setting: dict, device: str, work_dir: str,
                 total_time: float) -> str:
    """Write ``report.md``, ``report.png`` and ``detections/*.png``; return the report."""
    _banner(2 * len(MODELS) + 2, 2 * len(MODELS) + 2, 'report')
    figure = plot_report(results, osp.join(work_dir, 'report.png'))
    drawn = draw_detections(results['distilled'], osp.join(work_dir, 'detections'))
    teacher, student, distilled = (results[m['name']] for m in MODELS)
    lines = [
        '# mmkd demo report', '',
        f"Synthetic shapes ({setting['num_train']} training, {setting['num_test']} test "
        f"images), device `{device}`. The teacher trained {teacher['iters']} iterations, "
        f"both students {student['iters']} (batch {setting['batch_size']}), all from "
        f'scratch. This run took {_minutes(total_time)} (stages found done were '
        'skipped). The numbers are what this run produced.', '',
        '| model | mAP | mAP@0.5 | parameters | inference / image | training time |',
        '|---|---|---|---|---|---|',
    ]
    for res in (teacher, student, distilled):
        lines.append(f"| {res['title']} | {res['mAP']:.3f} | {res['mAP_50']:.3f} | "
                     f"{res['params'] / 1e6:.2f} M | {res['infer_ms']:.1f} ms | "
                     f"{_minutes(res['train_time'])} |")
    lines += ['', gap_sentence(teacher, student, distilled), '',
              f'![losses and mAP]({osp.basename(figure)})', '',
              loss_weights_sentence(distilled['cfg']), '',
              'Detections of the distilled student (left: ground truth, right: '
              'predictions with score >= 0.3):', '']
    lines += [f'![{osp.basename(p)}](detections/{osp.basename(p)})' for p in drawn]
    path = osp.join(work_dir, 'report.md')
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return path


def loss_weights_sentence(cfg) -> str:
    """Why the distilled student's hard losses look lower in the figure."""
    model = cfg.model
    return ('Losses are plotted as logged, with their weights: the distilled student\'s own '
            f'`loss_rpn_cls` and `loss_cls` carry weights '
            f'{model.rpn_head.loss_cls.loss_weight} and '
            f'{model.roi_head.bbox_head.loss_cls.loss_weight} (the paper\'s mu).')


def gap_sentence(teacher: dict, student: dict, distilled: dict) -> str:
    """The share of the teacher-student mAP gap closed by distillation, in words."""
    gap, gain = teacher['mAP'] - student['mAP'], distilled['mAP'] - student['mAP']
    gain_50 = distilled['mAP_50'] - student['mAP_50']
    noise = ('One run with one seed: on a schedule this short, a few hundredths of mAP can '
             'come from the seed alone.')
    if gap < 0.01:
        return (f'The teacher is not clearly better than the student baseline (gap '
                f'{gap:+.3f} mAP), so no share of the gap can be measured; distillation '
                f'changed the student by {gain:+.3f} mAP. Train longer (or use the GPU '
                f'setting) for a real gap. {noise}')
    text = (f'Distillation closed {100 * gain / gap:.0f}% of the teacher-student mAP gap '
            f'({gain:+.3f} of {gap:.3f} mAP; mAP@0.5 {gain_50:+.3f}).')
    if gain <= 0:
        text += ' In this run it did not help.'
    return f'{text} {noise}'


def plot_report(results: Dict[str, dict], path: str) -> str:
    """Loss curves of both students (hard and distillation terms) and mAP bars."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
    axes[1].sharey(axes[0])
    colors = {}  # one colour per loss term in both panels
    for ax, name in zip(axes, ('student', 'distilled')):
        curves = read_loss_curves(results[name]['scalars'])
        for key, (steps, values) in sorted(curves.items()):
            color = colors.setdefault(key, f'C{len(colors)}')
            style = '--' if '_kd_' in key or 'hint' in key else '-'
            ax.plot(steps, values, style, color=color, label=key)
        ax.set(title=f"{results[name]['title']}: losses", xlabel='iteration',
               ylabel='weighted loss (dashed: distillation)', yscale='log')
        ax.legend(fontsize=7)
    names = [m['name'] for m in MODELS]
    x = np.arange(len(names))
    for offset, key, label in ((-0.2, 'mAP', 'mAP'), (0.2, 'mAP_50', 'mAP@0.5')):
        values = [results[n][key] for n in names]
        bars = axes[2].bar(x + offset, values, 0.4, label=label)
        axes[2].bar_label(bars, fmt='%.3f', fontsize=7)
    top = max(results[n]['mAP_50'] for n in names)
    axes[2].set(title='COCO test', xticks=x, xticklabels=names, ylim=(0, 1.2 * top + 0.01))
    axes[2].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def read_loss_curves(scalars: str) -> Dict[str, tuple]:
    """Per loss term, the (iterations, values) of mmengine's training scalars log."""
    curves: Dict[str, List[list]] = {}
    with open(scalars) as f:
        for line in f:
            record = json.loads(line)
            if 'iter' not in record:
                continue
            for key, value in record.items():
                if key.startswith('loss_'):
                    steps, values = curves.setdefault(key, [[], []])
                    steps.append(record['iter'])
                    values.append(value)
    return {key: tuple(curve) for key, curve in curves.items()}


def draw_detections(result: dict, out_dir: str, scale: int = 3) -> List[str]:
    """Draw ground truth and detections of the model on the first test images.

    Images are enlarged ``scale`` times so that labels stay readable.
    """
    import cv2
    import torch
    from mmdet.apis import inference_detector, init_detector
    from mmdet.registry import VISUALIZERS
    from mmengine.structures import InstanceData

    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(out_dir)
    cfg = result['cfg']
    model = init_detector(cfg, result['checkpoint'], device='cpu')
    visualizer = VISUALIZERS.build(
        dict(type='DetLocalVisualizer', name=f'demo_draw_{time.time_ns()}'))
    visualizer.dataset_meta = model.dataset_meta
    dataset = cfg.test_dataloader.dataset
    with open(osp.join(dataset.data_root, dataset.ann_file)) as f:
        coco = json.load(f)
    paths = []
    for info in coco['images'][:NUM_DRAWN]:
        img_path = osp.join(dataset.data_root, dataset.data_prefix['img'], info['file_name'])
        sample = inference_detector(model, img_path)
        anns = [a for a in coco['annotations'] if a['image_id'] == info['id']]
        boxes = [[x, y, x + w, y + h] for x, y, w, h in (a['bbox'] for a in anns)]
        sample.gt_instances = InstanceData(
            bboxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4) * scale,
            labels=torch.tensor([a['category_id'] - 1 for a in anns], dtype=torch.long))
        sample.pred_instances.bboxes *= scale
        img = cv2.imread(img_path)[:, :, ::-1]
        img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
        paths.append(osp.join(out_dir, osp.splitext(info['file_name'])[0] + '.png'))
        with warnings.catch_warnings():  # boxes touching the border are fine
            warnings.simplefilter('ignore', UserWarning)
            visualizer.add_datasample(info['file_name'], img, data_sample=sample,
                                      pred_score_thr=0.3, out_file=paths[-1])
    return paths


def _own_visualizer(cfg):
    """A copy of ``cfg`` whose Runner gets a visualizer of its own.

    Visualizers are global instances by name: a second Runner of this process would reuse
    the first one's, and write its scalar logs into the first one's log dir.
    """
    cfg = cfg.copy()
    cfg.visualizer.name = f'demo_{time.time_ns()}'
    return cfg


def _hash(*parts) -> str:
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def _banner(index: int, total: int, text: str) -> None:
    print(f'\n[demo] ({index}/{total}) {text}', flush=True)


def _minutes(seconds: float) -> str:
    return f'{int(seconds // 60)} min {seconds % 60:02.0f} s'


if __name__ == '__main__':
    main()
