# BCCD accuracy study on 2 CPU cores, a student with a narrower neck than its teacher's: the
# R-18-FPN baseline (./faster-rcnn_r18_fpn_3e_bccd-256x192.py) with FPN, RPN and RoI features
# 32 channels wide, half the teacher's 64.
_base_ = './faster-rcnn_r18_fpn_3e_bccd-256x192.py'

model = dict(
    neck=dict(out_channels=32),
    rpn_head=dict(in_channels=32, feat_channels=32),
    roi_head=dict(bbox_roi_extractor=dict(out_channels=32), bbox_head=dict(in_channels=32)))
