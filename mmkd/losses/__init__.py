from .hint_loss import HintLoss
from .kd_soft_cross_entropy_loss import KDSoftCrossEntropyLoss, kd_soft_cross_entropy
from .teacher_bounded_regression_loss import (
    TeacherBoundedRegressionLoss,
    teacher_bounded_regression,
)
from .teacher_l2_regression_loss import TeacherL2RegressionLoss, teacher_l2_regression

__all__ = [
    'HintLoss', 'KDSoftCrossEntropyLoss', 'kd_soft_cross_entropy',
    'TeacherBoundedRegressionLoss', 'teacher_bounded_regression', 'TeacherL2RegressionLoss',
    'teacher_l2_regression'
]
