# R-50-FPN student distilled from mmdet's Faster R-CNN R-101-FPN (COCO, 1x).
_base_ = './kd_faster_rcnn_r50_r18.py'

model = dict(
    backbone=dict(
        depth=50, init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50')),
    neck=dict(in_channels=[256, 512, 1024, 2048]),
    teacher_config='mmdet::faster_rcnn/faster-rcnn_r101_fpn_1x_coco.py',
    teacher_ckpt='https://download.openmmlab.com/mmdetection/v2.0/faster_rcnn/'
    'faster_rcnn_r101_fpn_1x_coco/faster_rcnn_r101_fpn_1x_coco_20200130-f513f705.pth')
