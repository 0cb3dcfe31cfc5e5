import pytest
import torch

from mmkd.losses import TeacherBoundedRegressionLoss, TeacherL2RegressionLoss

TARGET = torch.zeros(3, 4)
STUDENT = torch.tensor([[1.0, 0, 0, 0], [0, 0, 0, 0], [0, 2.0, 0, 0]])
TEACHER = torch.tensor([[0.5, 0, 0, 0], [1.0, 0, 0, 0], [0, 0, 3.0, 0]])
# ||R_s - R_t||^2 per sample: 0.5^2 = 0.25; 1^2 = 1; 2^2 + 3^2 = 13
EXPECTED = torch.tensor([0.25, 1.0, 13.0])


def test_loss_is_squared_distance_to_the_teacher():
    loss = TeacherL2RegressionLoss(loss_weight=1.0, reduction='none')
    assert torch.allclose(loss(STUDENT, TEACHER, TARGET), EXPECTED)


def test_ground_truth_is_ignored_unlike_the_bounded_loss():
    loss = TeacherL2RegressionLoss(loss_weight=1.0, reduction='none')
    far_target = torch.full((3, 4), 7.0)
    assert torch.allclose(loss(STUDENT, TEACHER, far_target), EXPECTED)
    assert torch.allclose(loss(STUDENT, TEACHER), EXPECTED)
    # Sample 1: the student hits the ground truth, the teacher does not. The bounded loss
    # leaves it alone; plain L2 pulls the student towards the teacher's error.
    bounded = TeacherBoundedRegressionLoss(loss_weight=1.0, reduction='none')
    assert bounded(STUDENT, TEACHER, TARGET)[1] == 0.0
    assert loss(STUDENT, TEACHER, TARGET)[1] == 1.0


def test_mean_sum_and_loss_weight():
    assert torch.allclose(
        TeacherL2RegressionLoss(loss_weight=0.5)(STUDENT, TEACHER, TARGET),
        torch.tensor(0.5 * 14.25 / 3))
    assert torch.allclose(
        TeacherL2RegressionLoss(loss_weight=1.0, reduction='sum')(STUDENT, TEACHER, TARGET),
        torch.tensor(14.25))


def test_weight_and_avg_factor_as_the_detector_passes_them():
    loss = TeacherL2RegressionLoss(loss_weight=1.0)
    out = loss(STUDENT, TEACHER, TARGET, torch.tensor([2.0, 0.0, 1.0]), avg_factor=3)
    assert torch.allclose(out, torch.tensor((2 * 0.25 + 13.0) / 3))


def test_identical_regressions_give_zero():
    assert TeacherL2RegressionLoss()(TEACHER, TEACHER, TARGET).item() == 0.0


def test_gradient_reaches_the_student_only():
    student = STUDENT.clone().requires_grad_()
    teacher = TEACHER.clone().requires_grad_()
    TeacherL2RegressionLoss(loss_weight=1.0, reduction='sum')(student, teacher,
                                                              TARGET).backward()
    assert torch.allclose(student.grad, 2 * (STUDENT - TEACHER))
    assert teacher.grad is None


def test_empty_input_gives_zero():
    assert TeacherL2RegressionLoss()(torch.zeros(0, 4), torch.zeros(0, 4),
                                     torch.zeros(0, 4)).item() == 0.0


def test_shape_mismatch_is_refused():
    with pytest.raises(AssertionError, match='differ in shape'):
        TeacherL2RegressionLoss()(torch.zeros(2, 4), torch.zeros(3, 4), torch.zeros(2, 4))


def test_registered_in_mmdet():
    from mmdet.registry import MODELS
    loss = MODELS.build(dict(type='TeacherL2RegressionLoss', loss_weight=0.25))
    assert isinstance(loss, TeacherL2RegressionLoss) and loss.loss_weight == 0.25
