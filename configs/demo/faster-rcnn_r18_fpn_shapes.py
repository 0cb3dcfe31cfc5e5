# Demo student baseline: the demo teacher (faster-rcnn_r50_fpn_shapes.py: same data, heads and
# optimiser) with an R-18 backbone, trained alone on the students' shorter schedule.
_base_ = './faster-rcnn_r50_fpn_shapes.py'

model = dict(backbone=dict(depth=18), neck=dict(in_channels=[64, 128, 256, 512]))

max_iters = 250
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=50, end=max_iters, eta_min=0)
]
default_hooks = dict(checkpoint=dict(interval=max_iters))
