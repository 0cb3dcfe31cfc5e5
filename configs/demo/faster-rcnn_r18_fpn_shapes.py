# Demo student baseline: the demo teacher with an R-18 backbone, on the students' schedule.
_base_ = './faster-rcnn_r50_fpn_shapes.py'

model = dict(backbone=dict(depth=18), neck=dict(in_channels=[64, 128, 256, 512]))
train_cfg = _base_.shapes_student_schedule.train_cfg
param_scheduler = _base_.shapes_student_schedule.param_scheduler
default_hooks = _base_.shapes_student_schedule.default_hooks
