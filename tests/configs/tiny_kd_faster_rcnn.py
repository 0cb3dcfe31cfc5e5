# Tiny distillation set-up for CPU tests: the KD defaults of mmkd, a random tiny teacher.
_base_ = './tiny_faster_rcnn.py'
custom_imports = dict(imports=['mmkd'], allow_failed_imports=False)

model = dict(
    type='KnowledgeDistillationTwoStageDetector',
    teacher_config='{{fileDirname}}/tiny_teacher_faster_rcnn.py',
    teacher_ckpt=None)
