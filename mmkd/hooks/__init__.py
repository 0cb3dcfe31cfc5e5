from .exact_resume_hook import ExactResumeHook
from .stop_on_nonfinite_loss_hook import StopOnNonFiniteLossHook
from .teacher_check_hook import TeacherCheckHook
from .teacher_provenance_hook import TeacherProvenanceHook

__all__ = [
    'ExactResumeHook', 'StopOnNonFiniteLossHook', 'TeacherCheckHook', 'TeacherProvenanceHook'
]
