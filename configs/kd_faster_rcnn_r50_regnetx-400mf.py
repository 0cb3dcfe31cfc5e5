# A non-ResNet student: RegNetX-400MF-FPN distilled from Faster R-CNN R-50-FPN.
# RegNet weights expect BGR input with PyCls statistics; the teacher keeps its own
# normalisation (mmkd renormalises the batch for it).
_base_ = './kd_faster_rcnn_r50_r18.py'

model = dict(
    data_preprocessor=dict(
        mean=[103.53, 116.28, 123.675], std=[57.375, 57.12, 58.395], bgr_to_rgb=False),
    backbone=dict(
        _delete_=True,
        type='RegNet',
        arch='regnetx_400mf',
        out_indices=(0, 1, 2, 3),
        frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=True,
        style='pytorch',
        init_cfg=dict(type='Pretrained', checkpoint='open-mmlab://regnetx_400mf')),
    neck=dict(in_channels=[32, 64, 160, 384]))
optim_wrapper = dict(optimizer=dict(weight_decay=0.00005))
