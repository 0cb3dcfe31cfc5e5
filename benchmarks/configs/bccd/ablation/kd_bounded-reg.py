# Ablation (Chen et al. 2017, Table 4): teacher-bounded regression alone, RPN and R-CNN.
# Without the soft loss, classification is the hard loss alone: its weight goes back to 1.
_base_ = '../kd_faster-rcnn_r50-r18_fpn_12e_bccd-640x480.py'

model = dict(
    rpn_head=dict(loss_cls=dict(loss_weight=1.0)),
    roi_head=dict(bbox_head=dict(loss_cls=dict(loss_weight=1.0))),
    loss_rpn_kd_cls=None,
    loss_kd_cls=None,
    loss_hint=None)
