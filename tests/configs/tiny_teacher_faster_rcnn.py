# Tiny teacher: wider FPN than the student (48 channels), so the adapter maps 32 -> 48.
_base_ = './tiny_faster_rcnn.py'

model = dict(
    neck=dict(out_channels=48),
    rpn_head=dict(in_channels=48, feat_channels=48),
    roi_head=dict(bbox_roi_extractor=dict(out_channels=48), bbox_head=dict(in_channels=48)))
