# Ablation (Chen et al. 2017, Table 4): hints alone, through the 1x1 adaptation layer, on every
# FPN level. Without the soft loss, classification is the hard loss alone (weight 1).
_base_ = '../kd_faster-rcnn_r50-r18_fpn_12e_bccd-640x480.py'

model = dict(
    rpn_head=dict(loss_cls=dict(loss_weight=1.0)),
    roi_head=dict(bbox_head=dict(loss_cls=dict(loss_weight=1.0))),
    loss_rpn_kd_cls=None,
    loss_rpn_kd_bbox=None,
    loss_kd_cls=None,
    loss_kd_bbox=None)
