import math

import pytest
import torch

from mmkd.losses import KDSoftCrossEntropyLoss

# Student and teacher distributions over (class0, class1, background), given as log-probs
# so that log_softmax(logits) is exactly log(p).
P_S = [0.2, 0.3, 0.5]
P_T = [0.1, 0.6, 0.3]


def logits(p):
    return torch.tensor([p]).log()


def test_softmax_matches_hand_computed_value():
    loss = KDSoftCrossEntropyLoss(T=1.0, bg_weight=1.5, loss_weight=1.0)
    expected = -(0.1 * math.log(0.2) + 0.6 * math.log(0.3) + 1.5 * 0.3 * math.log(0.5))
    assert torch.allclose(loss(logits(P_S), logits(P_T)), torch.tensor(expected))


def test_identical_distributions_give_weighted_entropy():
    loss = KDSoftCrossEntropyLoss(bg_weight=1.5, loss_weight=1.0)
    expected = -(0.1 * math.log(0.1) + 0.6 * math.log(0.6) + 1.5 * 0.3 * math.log(0.3))
    assert torch.allclose(loss(logits(P_T), logits(P_T)), torch.tensor(expected))


def test_bg_weight_changes_only_background_term():
    with_bg = KDSoftCrossEntropyLoss(bg_weight=2.5, loss_weight=1.0)(logits(P_S), logits(P_T))
    plain = KDSoftCrossEntropyLoss(bg_weight=1.0, loss_weight=1.0)(logits(P_S), logits(P_T))
    assert torch.allclose(with_bg - plain, torch.tensor(-1.5 * 0.3 * math.log(0.5)))


def test_temperature_softens_both_and_scales_by_T_squared():
    s, t = torch.tensor([[2.0, 0.0, -2.0]]), torch.tensor([[0.0, 4.0, 0.0]])
    loss = KDSoftCrossEntropyLoss(T=2.0, bg_weight=1.0, loss_weight=1.0)(s, t)
    p_t = [math.exp(v) for v in (0.0, 2.0, 0.0)]
    p_t = [v / sum(p_t) for v in p_t]
    z_s = sum(math.exp(v) for v in (1.0, 0.0, -1.0))
    log_p_s = [v - math.log(z_s) for v in (1.0, 0.0, -1.0)]
    expected = -4.0 * sum(a * b for a, b in zip(p_t, log_p_s))
    assert torch.allclose(loss, torch.tensor(expected))


def test_sigmoid_binary_form():
    s, t = torch.tensor([0.5, -1.0]), torch.tensor([2.0, 0.0])
    loss = KDSoftCrossEntropyLoss(use_sigmoid=True, bg_weight=1.5, loss_weight=1.0,
                                  reduction='none')(s.view(-1, 1), t.view(-1, 1))

    def sig(z):
        return 1 / (1 + math.exp(-z))

    expected = [-(sig(b) * math.log(sig(a)) + 1.5 * (1 - sig(b)) * math.log(1 - sig(a)))
                for a, b in zip(s.tolist(), t.tolist())]
    assert torch.allclose(loss, torch.tensor(expected))


def test_weight_avg_factor_and_loss_weight():
    s = torch.cat([logits(P_S), logits(P_T)])
    t = torch.cat([logits(P_T), logits(P_T)])
    per_sample = KDSoftCrossEntropyLoss(loss_weight=1.0, reduction='none')(s, t)
    weight = torch.tensor([1.0, 0.0])
    loss = KDSoftCrossEntropyLoss(loss_weight=0.5)(s, t, weight, avg_factor=4)
    assert torch.allclose(loss, 0.5 * per_sample[0] / 4)


def test_gradient_reaches_student_only():
    s = logits(P_S).requires_grad_()
    t = logits(P_T).requires_grad_()
    KDSoftCrossEntropyLoss()(s, t).backward()
    assert s.grad is not None and s.grad.abs().sum() > 0
    assert t.grad is None


def test_empty_input_gives_zero_not_nan():
    s = torch.zeros(0, 3, requires_grad=True)
    loss = KDSoftCrossEntropyLoss()(s, torch.zeros(0, 3))
    assert loss.item() == 0.0
    loss.backward()


def test_rejects_bad_temperature_and_shape():
    with pytest.raises(ValueError, match='temperature'):
        KDSoftCrossEntropyLoss(T=0)
    with pytest.raises(AssertionError, match='differ in shape'):
        KDSoftCrossEntropyLoss()(torch.zeros(2, 3), torch.zeros(2, 4))


def grad_at(student_logits, teacher_logits, **kwargs):
    s = student_logits.clone().requires_grad_()
    KDSoftCrossEntropyLoss(loss_weight=1.0, **kwargs)(s, teacher_logits).backward()
    return s.grad


def test_bg_weight_1_is_smallest_at_the_teacher_1_5_at_w_times_p_t():
    t = logits(P_T)
    assert KDSoftCrossEntropyLoss().bg_weight == 1.5  # the paper's
    assert torch.allclose(grad_at(t, t, bg_weight=1.0), torch.zeros(1, 3), atol=1e-6)
    # the paper's w_bg = 1.5: not at the teacher, but at P_s proportional to w_c P_t^c
    assert grad_at(t, t, bg_weight=1.5).abs().max() > 0.1
    w = torch.tensor([1.0, 1.0, 1.5])
    shifted = w * torch.tensor(P_T) / (w * torch.tensor(P_T)).sum()
    assert shifted[2] == pytest.approx(0.45 / 1.15)  # background 0.39, teacher 0.30
    assert torch.allclose(grad_at(logits(shifted.tolist()), t, bg_weight=1.5),
                          torch.zeros(1, 3), atol=1e-6)


def test_sigmoid_minimum_is_the_teacher_or_p_t_over_p_t_plus_w_bg_background():
    p_t = torch.tensor([0.2, 0.5, 0.9])
    t = torch.logit(p_t)
    assert torch.allclose(grad_at(t, t, use_sigmoid=True, bg_weight=1.0), torch.zeros(3),
                          atol=1e-7)
    moved = p_t / (p_t + 1.5 * (1 - p_t))  # 0.14, 0.4, 0.86
    assert torch.allclose(grad_at(torch.logit(moved), t, use_sigmoid=True, bg_weight=1.5),
                          torch.zeros(3), atol=1e-7)
    assert grad_at(t, t, use_sigmoid=True, bg_weight=1.5).abs().min() > 0.01
