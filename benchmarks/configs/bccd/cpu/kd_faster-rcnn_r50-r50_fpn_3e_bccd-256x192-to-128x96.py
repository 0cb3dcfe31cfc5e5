# BCCD accuracy study on 2 CPU cores, the paper's resolution experiment, distilled: the
# 128x96 R-50 student (./faster-rcnn_r50_fpn_3e_bccd-128x96.py) learns from the 12-epoch R-50
# teacher, which sees the same images at 256x192. The training pipeline makes the teacher's
# input and the detector halves it for the student (student_downsample=2): student FPN level
# l meets teacher level l + 1, with the same anchors in image pixels. Tested at 128x96.
_base_ = ['./faster-rcnn_r50_fpn_3e_bccd-128x96.py', '../../../../configs/_base_/kd_chen2017.py']

teacher_scale = (256, 192)
model = dict(
    **_base_.kd_chen2017,
    teacher_config='{{fileDirname}}/faster-rcnn_r50_fpn_12e_bccd-256x192.py',
    teacher_ckpt=None,
    student_downsample=2,
    # padded teacher batches divisible by 64 keep the student's divisible by 32
    data_preprocessor=dict(pad_size_divisor=64))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=teacher_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
