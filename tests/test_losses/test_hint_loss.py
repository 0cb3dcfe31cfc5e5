import pytest
import torch

from mmkd.losses import HintLoss

PRED = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
TARGET = torch.tensor([[[[1.0, 0.0], [3.0, 1.0]]]])


def test_paper_l2_is_mean_squared_difference():
    loss = HintLoss('l2', normalize=False, loss_weight=0.5)(PRED, TARGET)
    assert torch.allclose(loss, torch.tensor(0.5 * (4 + 9) / 4))


def test_normalized_l2_is_divided_by_the_teachers_mean_square():
    # mean (V - Z)^2 = 13 / 4, mean Z^2 = (1 + 9 + 1) / 4
    loss = HintLoss('l2', normalize=True, loss_weight=0.5)(PRED, TARGET)
    assert torch.allclose(loss, torch.tensor(0.5 * 13 / 11))


def test_normalized_l2_of_an_all_zero_student_is_one_whatever_the_scale():
    target = torch.randn(2, 8, 5, 5)
    for scale in (1e-3, 1.0, 40.0):
        loss = HintLoss('l2', normalize=True, loss_weight=1.0)(torch.zeros_like(target),
                                                              scale * target)
        assert torch.allclose(loss, torch.tensor(1.0))


def test_l1_is_mean_absolute_difference_normalized_by_mean_absolute_target():
    assert torch.allclose(HintLoss('l1', normalize=False, loss_weight=1.0)(PRED, TARGET),
                          torch.tensor((2 + 3) / 4))
    assert torch.allclose(HintLoss('l1', normalize=True, loss_weight=1.0)(PRED, TARGET),
                          torch.tensor((2 + 3) / 5))


def test_gradient_reaches_student_only_and_not_through_the_normalizer():
    pred = torch.ones(1, 2, 3, 3, requires_grad=True)
    target = torch.full((1, 2, 3, 3), 2.0, requires_grad=True)
    HintLoss(normalize=True, loss_weight=1.0)(pred, target).backward()
    # d/dV mean (V - Z)^2 / mean Z^2 = 2 (V - Z) / (n mean Z^2) = 2 * -1 / (18 * 4)
    assert torch.allclose(pred.grad, torch.full_like(pred, -2 / 72))
    assert target.grad is None


def test_default_is_the_papers_plain_distance():
    assert torch.allclose(HintLoss()(PRED, TARGET), torch.tensor(0.5 * 13 / 4))


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="'l1' or 'l2'"):
        HintLoss('cos')
    with pytest.raises(ValueError, match='differ in shape'):
        HintLoss()(torch.zeros(1, 2, 3, 3), torch.zeros(1, 4, 3, 3))
