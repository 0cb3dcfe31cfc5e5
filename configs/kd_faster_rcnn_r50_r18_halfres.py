# The paper's resolution experiment: the teacher sees the full-scale image (1333x800),
# the student the same image at half scale. The training pipeline produces the teacher's
# input; the student's is that batch downsampled by 2 inside the detector, and student
# FPN level l meets teacher level l + 1 for the hints (the same feature size). The
# student's anchors are halved with its input (16-256 px, the teacher's 32-512) so that
# they cover the objects the teacher's cover; the teacher's RPN scores them on its level
# of the same anchors, every second cell (docs/method.md).
_base_ = './kd_faster_rcnn_r50_r18.py'

model = dict(
    student_downsample=2,
    rpn_head=dict(anchor_generator=dict(scales=[4])),
    # padded teacher batches divisible by 64 keep the student's divisible by 32
    data_preprocessor=dict(pad_size_divisor=64))

# The student is evaluated alone, at its own (half) scale.
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='Resize', scale=(667, 400), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
