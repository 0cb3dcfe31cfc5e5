# BCCD accuracy study on 2 CPU cores: the narrow-neck student (FPN 32,
# ./faster-rcnn_r18_fpn32_3e_bccd-256x192.py) distilled from the R-50 teacher (FPN 64) with
# mmkd's defaults, resolved for the pair: hints through the 1x1 adapter, nothing inherited.
_base_ = ['./faster-rcnn_r18_fpn32_3e_bccd-256x192.py',
          '../../../../configs/_base_/kd_chen2017.py']

model = dict(
    **_base_.kd_chen2017,
    teacher_config='{{fileDirname}}/faster-rcnn_r50_fpn_12e_bccd-256x192.py',
    teacher_ckpt=None)
