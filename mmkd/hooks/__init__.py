from .stop_on_nonfinite_loss_hook import StopOnNonFiniteLossHook
from .teacher_check_hook import TeacherCheckHook

__all__ = ['StopOnNonFiniteLossHook', 'TeacherCheckHook']
