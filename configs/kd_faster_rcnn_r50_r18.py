# Chen et al. 2017, "Learning Efficient Object Detection Models with Knowledge
# Distillation": a Faster R-CNN R-18-FPN student distilled from mmdet's R-50-FPN on COCO.
# Schedule and data are mmdet's 1x (batch 2 per GPU x 8 GPUs):
#   tools/dist_train.sh configs/kd_faster_rcnn_r50_r18.py 8
# A local teacher checkpoint: --cfg-options model.teacher_ckpt=/path/to/teacher.pth
_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['mmkd'], allow_failed_imports=False)

# The paper's constants (Sec. 3):
#   mu = 0.5     hard/soft mix of L_cls: the student's own loss_cls weight is mu, the
#                soft losses' weight 1 - mu.
#   T = 1        softmax temperature (best in the paper).
#   w_bg = 1.5   background weight in the soft loss (bg_weight).
#   nu = 0.5     weight of the teacher-bounded regression, margin m = 0.
#   lambda = 1   weight of L_reg: the student's own loss_bbox keeps weight 1.
#   gamma = 0.5  weight of the hint loss (L2, through a 1x1 adaptation layer).
model = dict(
    type='KnowledgeDistillationTwoStageDetector',
    backbone=dict(
        depth=18, init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet18')),
    neck=dict(in_channels=[64, 128, 256, 512]),
    rpn_head=dict(loss_cls=dict(loss_weight=0.5)),  # mu
    roi_head=dict(bbox_head=dict(loss_cls=dict(loss_weight=0.5))),  # mu
    teacher_config='mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py',
    teacher_ckpt='https://download.openmmlab.com/mmdetection/v2.0/faster_rcnn/'
    'faster_rcnn_r50_fpn_1x_coco/faster_rcnn_r50_fpn_1x_coco_20200130-047c8118.pth',
    eval_teacher=True,
    loss_rpn_kd_cls=dict(
        type='KDSoftCrossEntropyLoss', use_sigmoid=True, T=1.0, bg_weight=1.5,
        loss_weight=0.5),  # 1 - mu
    loss_rpn_kd_bbox=dict(type='TeacherBoundedRegressionLoss', margin=0.0, loss_weight=0.5),
    loss_kd_cls=dict(type='KDSoftCrossEntropyLoss', T=1.0, bg_weight=1.5, loss_weight=0.5),
    loss_kd_bbox=dict(type='TeacherBoundedRegressionLoss', margin=0.0, loss_weight=0.5),
    loss_hint=dict(type='HintLoss', loss_type='l2', loss_weight=0.5),  # gamma
    hint_levels=None,  # every FPN level
    adapter=dict(type='FeatureAdapter', kernel_size=1))

# Stop at the first NaN/inf loss, naming the term; the last good checkpoint stays the last.
# Add dict(type='TeacherValHook') to log the teacher's val mAP too (a teacher at 0 mAP
# did not load). Configs that set custom_hooks must list these again (lists are replaced).
custom_hooks = [dict(type='StopOnNonFiniteLossHook')]
