from .stop_on_nonfinite_loss_hook import StopOnNonFiniteLossHook
from .teacher_val_hook import TeacherValHook

__all__ = ['StopOnNonFiniteLossHook', 'TeacherValHook']
