# Ablation (Chen et al. 2017, Table 4): plain L2 to the teacher's regression instead of the
# teacher-bounded loss, same weight nu = 0.5, on the same (positive) samples.
_base_ = './kd_bounded-reg.py'

model = dict(
    loss_rpn_kd_bbox=dict(_delete_=True, type='TeacherL2RegressionLoss', loss_weight=0.5),
    loss_kd_bbox=dict(_delete_=True, type='TeacherL2RegressionLoss', loss_weight=0.5))
