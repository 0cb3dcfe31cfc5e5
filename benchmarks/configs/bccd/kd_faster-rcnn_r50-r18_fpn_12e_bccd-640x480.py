# BCCD accuracy benchmark, the distilled student: the baseline student
# (faster-rcnn_r18_fpn_12e_bccd-640x480.py, same schedule, same input) distilled from the
# 36-epoch R-50 teacher with all terms of Chen et al. 2017 at the paper's constants (see
# configs/kd_faster_rcnn_r50_r18.py). The teacher checkpoint defaults to where
# benchmarks/bccd_accuracy.py trains it; another: --cfg-options model.teacher_ckpt=...
_base_ = './faster-rcnn_r18_fpn_12e_bccd-640x480.py'
custom_imports = dict(imports=['mmkd'], allow_failed_imports=False)

model = dict(
    type='KnowledgeDistillationTwoStageDetector',
    rpn_head=dict(loss_cls=dict(loss_weight=0.5)),  # mu
    roi_head=dict(bbox_head=dict(loss_cls=dict(loss_weight=0.5))),  # mu
    teacher_config='{{fileDirname}}/faster-rcnn_r50_fpn_36e_bccd-640x480.py',
    teacher_ckpt='{{fileDirname}}/../../../work_dirs/bccd_accuracy/teacher/epoch_36.pth',
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
