# BCCD accuracy study on 2 CPU cores, the student baseline: Faster R-CNN R-18-FPN trained
# alone, from scratch, on the teacher's data, input and heads, for 3 epochs. The
# teacher-student gap is made by depth and schedule: R-50 for 12 epochs against R-18 for 3.
# (With 4 epochs the students came within 4.8 mAP of the teacher on two of three seeds:
# 50.2 / 52.0 / 51.9 against 56.8.)
_base_ = './faster-rcnn_r50_fpn_12e_bccd-256x192.py'

model = dict(backbone=dict(depth=18), neck=dict(in_channels=[64, 128, 256, 512]))

max_epochs = 3
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs, eta_min=0,
         convert_to_iter_based=True)
]
