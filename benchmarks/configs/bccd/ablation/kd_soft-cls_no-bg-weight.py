# Ablation (Chen et al. 2017, Table 4): soft classification alone without the background
# weighting (w_bg = 1, the plain soft cross entropy of Hinton et al.).
_base_ = './kd_soft-cls.py'

model = dict(
    loss_rpn_kd_cls=dict(bg_weight=1.0),
    loss_kd_cls=dict(bg_weight=1.0))
