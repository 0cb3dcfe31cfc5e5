# Tiny distillation set-up for CPU tests: the paper's method (kd_chen2017_paper in
# configs/_base_/kd_chen2017.py: the teacher bound, the hint through an adapter, nothing
# inherited), a random tiny teacher. The teacher's neck is wider than the student's (48
# against 32 channels), so the hints need the adapter and no head can be inherited; mmkd's
# defaults (no adapter, heads from the teacher's) are tested with the student's own
# architecture as the teacher.
_base_ = './tiny_faster_rcnn.py'
custom_imports = dict(imports=['mmkd'], allow_failed_imports=False)

model = dict(
    type='KnowledgeDistillationTwoStageDetector',
    teacher_config='{{fileDirname}}/tiny_teacher_faster_rcnn.py',
    teacher_ckpt=None,
    loss_rpn_kd_bbox=dict(type='TeacherBoundedRegressionLoss', margin=0.0, loss_weight=0.5),
    loss_kd_bbox=dict(type='TeacherBoundedRegressionLoss', margin=0.0, loss_weight=0.5),
    adapter=dict(type='FeatureAdapter', kernel_size=1),
    inherit_teacher=())
