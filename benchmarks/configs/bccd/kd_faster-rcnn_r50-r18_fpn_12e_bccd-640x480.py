# BCCD accuracy benchmark, the distilled student: the baseline student
# (faster-rcnn_r18_fpn_12e_bccd-640x480.py, same schedule, same input) distilled from the
# 36-epoch R-50 teacher with mmkd's defaults (configs/_base_/kd_chen2017.py).
# benchmarks/bccd_accuracy.py --setting gpu trains the teacher and passes its checkpoint;
# by hand: --cfg-options model.teacher_ckpt=/path/to/teacher.pth
_base_ = ['./faster-rcnn_r18_fpn_12e_bccd-640x480.py', '../../../configs/_base_/kd_chen2017.py']

model = dict(
    **_base_.kd_chen2017,
    teacher_config='{{fileDirname}}/faster-rcnn_r50_fpn_36e_bccd-640x480.py',
    teacher_ckpt=None)
