# BCCD accuracy benchmark, the student baseline: Faster R-CNN R-18-FPN trained alone, from
# scratch, at the teacher's input size. The teacher-student gap is made by the schedule:
# 12 epochs, the teacher's 36-epoch schedule scaled by 1/3 (steps at 9 and 11, warm-up over
# 100 iterations instead of 500: 12 BCCD epochs are about 444 iterations). At 36 epochs an
# R-18 from scratch nearly matches R-50 on BCCD (dataset README), at 12 it does not.
_base_ = './faster-rcnn_r50_fpn_36e_bccd-640x480.py'

model = dict(backbone=dict(depth=18), neck=dict(in_channels=[64, 128, 256, 512]))

max_epochs = 12
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=100),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_epochs,
        by_epoch=True,
        milestones=[9, 11],
        gamma=0.1)
]
# The short warm-up reaches lr 0.02 from scratch: clipping guards every student (baseline and
# distilled alike) against an early divergence.
optim_wrapper = dict(clip_grad=dict(max_norm=35, norm_type=2))
