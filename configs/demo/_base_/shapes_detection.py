# Settings shared by the demo's three configs (teacher, student, distilled student) on the
# synthetic shapes dataset that tools/demo.py writes (mmkd.datasets.synthetic). Names carry
# a `shapes_` prefix: a second `_base_` may not redefine mmdet's keys, so each demo config
# assigns them, e.g. `train_dataloader = _base_.shapes_train_dataloader`.
# Sized for a 2-core CPU: 96x96 images, narrow FPN and heads, few anchors, RoIs and
# proposals; backbones train from scratch (nothing to download).
shapes_data_root = '{{fileDirname}}/../../../data/shapes/'
shapes_classes = ('disc', 'ring', 'square', 'cross', 'triangle')
shapes_img_scale = (96, 96)

shapes_model = dict(
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
        bbox_head=dict(in_channels=64, fc_out_channels=256, num_classes=len(shapes_classes))),
    train_cfg=dict(
        rpn=dict(sampler=dict(num=64)),
        rpn_proposal=dict(nms_pre=500, max_per_img=200),
        rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(rpn=dict(nms_pre=300, max_per_img=100), rcnn=dict(max_per_img=30)))

shapes_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=shapes_img_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
shapes_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=shapes_img_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
shapes_train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=shapes_data_root,
        ann_file='annotations/train.json',
        data_prefix=dict(img='train/'),
        metainfo=dict(classes=shapes_classes),
        pipeline=shapes_train_pipeline))
# the test split doubles as validation split
shapes_test_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=shapes_data_root,
        ann_file='annotations/test.json',
        data_prefix=dict(img='test/'),
        metainfo=dict(classes=shapes_classes),
        pipeline=shapes_test_pipeline))
shapes_test_evaluator = dict(ann_file=shapes_data_root + 'annotations/test.json')

# AdamW learns much faster than mmdet's SGD from scratch in a few hundred iterations.
shapes_optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='AdamW', lr=0.002, weight_decay=0.05),
    clip_grad=dict(max_norm=10, norm_type=2))
shapes_log_processor = dict(by_epoch=False)


def _schedule(iters):
    """Linear warm-up, cosine decay to 0 at ``iters``; one checkpoint at the end."""
    return dict(
        train_cfg=dict(
            _delete_=True, type='IterBasedTrainLoop', max_iters=iters, val_interval=iters),
        param_scheduler=[
            dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
            dict(type='CosineAnnealingLR', by_epoch=False, begin=50, end=iters, eta_min=0)
        ],
        default_hooks=dict(
            logger=dict(interval=10),
            checkpoint=dict(by_epoch=False, interval=iters, max_keep_ckpts=1)))


# The teacher trains twice as long as the students, so that it is clearly the better model.
shapes_teacher_schedule = _schedule(1000)
shapes_student_schedule = _schedule(500)
