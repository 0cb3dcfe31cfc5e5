# Ablation (Chen et al. 2017, Table 4): hints alone without the adaptation layer; student and
# teacher FPN both have 256 channels, so the student's features meet the teacher's directly.
_base_ = './kd_hint.py'

model = dict(adapter=None)
