# BCCD accuracy study on 2 CPU cores: the R-18 Faster R-CNN student
# (./faster-rcnn_r18_fpn_3e_bccd-256x192.py) distilled from the Cascade R-CNN R-50 teacher
# (./cascade-rcnn_r50_fpn_12e_bccd-256x192.py) with mmkd's defaults: the cascade scores the
# student's RoIs as at test time; only the RPN head is inherited.
_base_ = ['./faster-rcnn_r18_fpn_3e_bccd-256x192.py',
          '../../../../configs/_base_/kd_chen2017.py']

model = dict(
    **_base_.kd_chen2017,
    teacher_config='{{fileDirname}}/cascade-rcnn_r50_fpn_12e_bccd-256x192.py',
    teacher_ckpt=None)
