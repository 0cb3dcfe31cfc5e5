# Chen et al. 2017, "Learning Efficient Object Detection Models with Knowledge Distillation":
# a Faster R-CNN R-18-FPN student distilled from mmdet's R-50-FPN on COCO.
# Schedule and data are mmdet's 1x (batch 2 per GPU x 8 GPUs):
#   tools/dist_train.sh configs/kd_faster_rcnn_r50_r18.py 8
# A local teacher checkpoint: --cfg-options model.teacher_ckpt=/path/to/teacher.pth
# The distillation terms and the paper's constants (mu, T, w_bg, nu, m, gamma) are in
# ./_base_/kd_chen2017.py, which every mmkd config shares.
_base_ = ['mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py', './_base_/kd_chen2017.py']

model = dict(
    **_base_.kd_chen2017,
    backbone=dict(
        depth=18, init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet18')),
    neck=dict(in_channels=[64, 128, 256, 512]),
    teacher_config='mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py',
    teacher_ckpt='https://download.openmmlab.com/mmdetection/v2.0/faster_rcnn/'
    'faster_rcnn_r50_fpn_1x_coco/faster_rcnn_r50_fpn_1x_coco_20200130-047c8118.pth')
