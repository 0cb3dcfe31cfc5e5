# Demo teacher: mmdet's Faster R-CNN R-50-FPN trained from scratch on the synthetic shapes
# (make demo). What differs from mmdet's config is in _base_/shapes_detection.py.
_base_ = [
    'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py', './_base_/shapes_detection.py'
]
custom_imports = dict(imports=['mmkd'], allow_failed_imports=False)

model = _base_.shapes_model
train_dataloader = _base_.shapes_train_dataloader
val_dataloader = _base_.shapes_test_dataloader
test_dataloader = val_dataloader
val_evaluator = _base_.shapes_test_evaluator
test_evaluator = val_evaluator
optim_wrapper = _base_.shapes_optim_wrapper
log_processor = _base_.shapes_log_processor
train_cfg = _base_.shapes_teacher_schedule.train_cfg
param_scheduler = _base_.shapes_teacher_schedule.param_scheduler
default_hooks = _base_.shapes_teacher_schedule.default_hooks
randomness = dict(seed=0)
