from .hint_loss import HintLoss, hint_loss
from .kd_soft_cross_entropy_loss import KDSoftCrossEntropyLoss, kd_soft_cross_entropy
from .teacher_bounded_regression_loss import (
    TeacherBoundedRegressionLoss,
    bound_active,
    teacher_bounded_regression,
)
from .teacher_l2_regression_loss import TeacherL2RegressionLoss, teacher_l2_regression

__all__ = [
    'HintLoss', 'hint_loss', 'KDSoftCrossEntropyLoss', 'kd_soft_cross_entropy',
    'TeacherBoundedRegressionLoss', 'bound_active', 'teacher_bounded_regression',
    'TeacherL2RegressionLoss', 'teacher_l2_regression'
]
