# Demo teacher: mmdet's Faster R-CNN R-50-FPN trained from scratch on the synthetic shapes that
# tools/demo.py writes (mmkd/experiments/shapes.py). The demo's three configs form one chain:
# this teacher -> faster-rcnn_r18_fpn_shapes.py (the student alone) ->
# kd_faster_rcnn_r50_r18_shapes.py (the student distilled from this teacher).
# Sized for 2 CPU cores: 96x96 images, narrow FPN and heads, few anchors, RoIs and proposals;
# backbones train from scratch (nothing to download).
_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'

data_root = '{{fileDirname}}/../../data/shapes/'
classes = ('disc', 'ring', 'square', 'cross', 'triangle')
img_scale = (96, 96)

model = dict(
    # from scratch: no frozen stage, batch norm statistics learnt
    backbone=dict(init_cfg=None, frozen_stages=-1, norm_eval=False),
    neck=dict(out_channels=64),
    rpn_head=dict(
        in_channels=64,
        feat_channels=64,
        # objects are 10-48 px: anchors of 12-192 px instead of 32-512
        anchor_generator=dict(scales=[3])),
    roi_head=dict(
        # 1 sample per bin: mmcv's RoIAlign is slow on CPU, adaptive sampling 3x slower
        bbox_roi_extractor=dict(roi_layer=dict(sampling_ratio=1), out_channels=64),
        bbox_head=dict(in_channels=64, fc_out_channels=256, num_classes=len(classes))),
    train_cfg=dict(
        rpn=dict(sampler=dict(num=64)),
        rpn_proposal=dict(nms_pre=500, max_per_img=200),
        rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(rpn=dict(nms_pre=300, max_per_img=100), rcnn=dict(max_per_img=30)))

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
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        ann_file='annotations/train.json',
        data_prefix=dict(img='train/'),
        metainfo=dict(classes=classes),
        pipeline=train_pipeline))
# the test split doubles as validation split
test_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        ann_file='annotations/test.json',
        data_prefix=dict(img='test/'),
        metainfo=dict(classes=classes),
        pipeline=test_pipeline))
val_dataloader = test_dataloader
test_evaluator = dict(ann_file=data_root + 'annotations/test.json')
val_evaluator = test_evaluator

# AdamW learns much faster than mmdet's SGD from scratch in a few hundred iterations;
# fused: one kernel for all parameters, 5x faster than the default loop on a CPU.
optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='AdamW', lr=0.002, weight_decay=0.05, fused=True),
    clip_grad=dict(max_norm=10, norm_type=2))

# The teacher trains three times as long as the students: that is what makes it the better
# detector (the demo's gap; R-50 against R-18 alone makes little difference here).
max_iters = 750
train_cfg = dict(
    _delete_=True, type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=50, end=max_iters, eta_min=0)
]
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(by_epoch=False, interval=max_iters, max_keep_ckpts=1))
log_processor = dict(by_epoch=False, window_size=10)
randomness = dict(seed=0)
