import torch

from mmkd.losses import TeacherBoundedRegressionLoss, bound_active

TARGET = torch.zeros(3, 4)
# e_s = [1, 0, 4]; e_t = [0.25, 1, 9]
STUDENT = torch.tensor([[1.0, 0, 0, 0], [0, 0, 0, 0], [0, 2.0, 0, 0]])
TEACHER = torch.tensor([[0.5, 0, 0, 0], [1.0, 0, 0, 0], [0, 0, 3.0, 0]])


def test_loss_is_student_error_where_worse_than_teacher_else_zero():
    loss = TeacherBoundedRegressionLoss(loss_weight=1.0, reduction='none')
    out = loss(STUDENT, TEACHER, TARGET)
    # sample 0: student worse (1 > 0.25) -> 1; sample 1: better -> 0; sample 2: 4 < 9 -> 0
    assert torch.allclose(out, torch.tensor([1.0, 0.0, 0.0]))


def test_mean_over_all_samples_and_loss_weight():
    loss = TeacherBoundedRegressionLoss(loss_weight=0.5)
    assert torch.allclose(loss(STUDENT, TEACHER, TARGET), torch.tensor(0.5 * 1.0 / 3))


def test_margin_switches_the_bound():
    student = torch.tensor([[1.0, 0, 0, 0]])  # e_s = 1
    teacher = torch.tensor([[1.5**0.5, 0, 0, 0]])  # e_t = 1.5
    target = torch.zeros(1, 4)
    assert TeacherBoundedRegressionLoss(margin=0.0, loss_weight=1.0)(
        student, teacher, target).item() == 0.0
    assert torch.allclose(
        TeacherBoundedRegressionLoss(margin=1.0, loss_weight=1.0)(student, teacher, target),
        torch.tensor(1.0))


def test_weight_and_avg_factor():
    loss = TeacherBoundedRegressionLoss(loss_weight=1.0)
    out = loss(STUDENT, TEACHER, TARGET, torch.tensor([2.0, 1.0, 1.0]), avg_factor=4)
    assert torch.allclose(out, torch.tensor(2.0 / 4))


def test_gradient_reaches_pred_only_on_active_samples():
    student = STUDENT.clone().requires_grad_()
    teacher = TEACHER.clone().requires_grad_()
    target = TARGET.clone().requires_grad_()
    TeacherBoundedRegressionLoss(loss_weight=1.0, reduction='sum')(student, teacher,
                                                                   target).backward()
    expected = torch.zeros(3, 4)
    expected[0] = 2 * STUDENT[0]  # d/dR_s ||R_s - y||^2 on the only active sample
    assert torch.allclose(student.grad, expected)
    assert teacher.grad is None and target.grad is None


def test_empty_input_gives_zero():
    assert TeacherBoundedRegressionLoss()(torch.zeros(0, 4), torch.zeros(0, 4),
                                          torch.zeros(0, 4)).item() == 0.0


def test_bound_active_is_where_the_loss_is_not_zero():
    assert bound_active(STUDENT, TARGET, TEACHER).tolist() == [True, False, False]
    # margin 4: e_s + 4 > e_t on samples 0 (5 > 0.25) and 1 (4 > 1), not 2 (8 < 9)
    assert bound_active(STUDENT, TARGET, TEACHER, margin=4.0).tolist() == [True, True, False]
