# BCCD accuracy study on 2 CPU cores: the pretrained MobileNetV2-FPN student
# (./faster-rcnn_mobilenetv2_fpn_3e_bccd-256x192.py) distilled from the 12-epoch R-50 teacher
# with mmkd's defaults (configs/_base_/kd_chen2017.py).
_base_ = ['./faster-rcnn_mobilenetv2_fpn_3e_bccd-256x192.py',
          '../../../../configs/_base_/kd_chen2017.py']

model = dict(
    **_base_.kd_chen2017,
    teacher_config='{{fileDirname}}/faster-rcnn_r50_fpn_12e_bccd-256x192.py',
    teacher_ckpt=None)
