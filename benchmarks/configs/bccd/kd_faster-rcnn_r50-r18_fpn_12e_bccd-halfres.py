# BCCD accuracy benchmark, the resolution experiment (Chen et al. 2017, Sec. 4.3): the teacher
# sees the 640x480 image, the student the same image at 320x240 (downsampled inside the
# detector); student FPN level l meets teacher level l + 1, the student's anchors are
# halved with its input. Its baseline is faster-rcnn_r18_fpn_12e_bccd-320x240.py (same
# schedule, same student input and anchors).
_base_ = './kd_faster-rcnn_r50-r18_fpn_12e_bccd-640x480.py'

model = dict(
    student_downsample=2,
    rpn_head=dict(anchor_generator=dict(scales=[4])),
    # padded teacher batches divisible by 64 keep the student's divisible by 32
    data_preprocessor=dict(pad_size_divisor=64))

# The student is tested alone, at its own (half) size.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(320, 240), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
val_dataloader = test_dataloader
