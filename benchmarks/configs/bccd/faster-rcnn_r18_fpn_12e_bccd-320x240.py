# BCCD accuracy benchmark, the baseline of the resolution experiment: the R-18-FPN student
# of faster-rcnn_r18_fpn_12e_bccd-640x480.py trained and tested at half the input size.
_base_ = './faster-rcnn_r18_fpn_12e_bccd-640x480.py'

# anchors halved with the input (16-256 px): they cover what the 640x480 model's cover
model = dict(rpn_head=dict(anchor_generator=dict(scales=[4])))

img_scale = (320, 240)
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
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
val_dataloader = test_dataloader
