import pytest
import torch

from mmkd.losses import HintLoss


def test_l2_is_mean_squared_difference():
    pred = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    target = torch.tensor([[[[1.0, 0.0], [3.0, 1.0]]]])
    assert torch.allclose(HintLoss('l2', loss_weight=0.5)(pred, target),
                          torch.tensor(0.5 * (4 + 9) / 4))


def test_l1_is_mean_absolute_difference():
    pred = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    target = torch.tensor([[[[1.0, 0.0], [3.0, 1.0]]]])
    assert torch.allclose(HintLoss('l1', loss_weight=1.0)(pred, target),
                          torch.tensor((2 + 3) / 4))


def test_gradient_reaches_student_only():
    pred = torch.ones(1, 2, 3, 3, requires_grad=True)
    target = torch.zeros(1, 2, 3, 3, requires_grad=True)
    HintLoss()(pred, target).backward()
    assert pred.grad.abs().sum() > 0 and target.grad is None


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="'l1' or 'l2'"):
        HintLoss('cos')
    with pytest.raises(ValueError, match='differ in shape'):
        HintLoss()(torch.zeros(1, 2, 3, 3), torch.zeros(1, 4, 3, 3))
