# BCCD accuracy study on 2 CPU cores, the distilled student: the baseline student
# (faster-rcnn_r18_fpn_3e_bccd-256x192.py: same data, input, heads and schedule) distilled
# from the 12-epoch R-50 teacher with mmkd's defaults (configs/_base_/kd_chen2017.py).
# benchmarks/bccd_accuracy.py trains the teacher and passes its checkpoint; by hand:
#   --cfg-options model.teacher_ckpt=/path/to/teacher.pth
_base_ = ['./faster-rcnn_r18_fpn_3e_bccd-256x192.py', '../../../../configs/_base_/kd_chen2017.py']

model = dict(
    **_base_.kd_chen2017,
    teacher_config='{{fileDirname}}/faster-rcnn_r50_fpn_12e_bccd-256x192.py',
    teacher_ckpt=None)
