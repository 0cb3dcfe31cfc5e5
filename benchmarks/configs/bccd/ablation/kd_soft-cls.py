# Ablation (Chen et al. 2017, Table 4): soft classification alone, RPN and R-CNN, background
# weight 1.5; the student's hard classification keeps weight mu = 0.5.
_base_ = '../kd_faster-rcnn_r50-r18_fpn_12e_bccd-640x480.py'

model = dict(loss_rpn_kd_bbox=None, loss_kd_bbox=None, loss_hint=None)
