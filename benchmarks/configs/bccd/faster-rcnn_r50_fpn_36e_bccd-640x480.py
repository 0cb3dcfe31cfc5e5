# BCCD accuracy benchmark (benchmarks/bccd_accuracy.py), the teacher: stock mmdet Faster R-CNN
# R-50-FPN trained from scratch as in the dataset's README (reference: 56.1 bbox mAP, 90.7
# mAP@0.5 on the test split): 640x480 (the images' own size), no pretrained weights, batch
# norm trained, SGD lr 0.02, batch 8 on one GPU, 36 epochs with steps at 27 and 33.
# Data: ../shared/datasets/bccd beside the repository; elsewhere MMKD_BCCD_ROOT=/path/to/bccd
# (or --data-root of benchmarks/bccd_accuracy.py).
_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'

data_root = '{{$MMKD_BCCD_ROOT:{{fileDirname}}/../../../../shared/datasets/bccd}}/'
metainfo = dict(classes=('RBC', 'WBC', 'Platelets'))
img_scale = (640, 480)

model = dict(
    # from scratch: no pretrained weights, no frozen stage, batch norm statistics learnt
    backbone=dict(frozen_stages=-1, norm_eval=False, init_cfg=None),
    roi_head=dict(bbox_head=dict(num_classes=3)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
train_dataloader = dict(
    batch_size=8,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/trainval.json',
        data_prefix=dict(img='images/'),
        pipeline=train_pipeline))
# BCCD has no validation split: the test split doubles as one (evaluated after the last epoch).
test_dataloader = dict(
    batch_size=8,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/test.json',
        data_prefix=dict(img='images/'),
        pipeline=test_pipeline))
val_dataloader = test_dataloader
test_evaluator = dict(ann_file=data_root + 'annotations/test.json')
val_evaluator = test_evaluator

max_epochs = 36
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_epochs,
        by_epoch=True,
        milestones=[27, 33],
        gamma=0.1)
]
# A checkpoint every 3 epochs and after the last: a stopped run resumes from it
# (benchmarks/bccd_accuracy.py, or tools/train.py --resume).
default_hooks = dict(
    checkpoint=dict(interval=3, max_keep_ckpts=1), logger=dict(interval=10))
