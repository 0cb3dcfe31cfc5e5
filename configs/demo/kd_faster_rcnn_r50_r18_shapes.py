# Demo distilled student: mmkd's R-50 -> R-18 distillation (configs/kd_faster_rcnn_r50_r18.py,
# the paper's losses and weights) with the demo teacher, on the data and schedule of the
# student baseline. tools/demo.py trains the teacher first and passes its checkpoint; by hand:
#   python tools/train.py configs/demo/kd_faster_rcnn_r50_r18_shapes.py \
#       --cfg-options model.teacher_ckpt=work_dirs/demo/teacher/iter_1000.pth
_base_ = ['../kd_faster_rcnn_r50_r18.py', './_base_/shapes_detection.py']

model = dict(
    **_base_.shapes_model,
    teacher_config='{{fileDirname}}/faster-rcnn_r50_fpn_shapes.py',
    teacher_ckpt='{{fileDirname}}/../../work_dirs/demo/teacher/iter_1000.pth')
train_dataloader = _base_.shapes_train_dataloader
val_dataloader = _base_.shapes_test_dataloader
test_dataloader = val_dataloader
val_evaluator = _base_.shapes_test_evaluator
test_evaluator = val_evaluator
optim_wrapper = _base_.shapes_optim_wrapper
log_processor = _base_.shapes_log_processor
train_cfg = _base_.shapes_student_schedule.train_cfg
param_scheduler = _base_.shapes_student_schedule.param_scheduler
default_hooks = _base_.shapes_student_schedule.default_hooks
randomness = dict(seed=0)
