import math

import pytest
import torch

from raqo_core.training import pro_loss


def test_n2_reduces_to_logsigmoid_of_gap_times_score_difference():
    s = torch.tensor([[-1.2, -2.0], [-0.5, -0.4]])
    r = torch.tensor([[3.0, 1.0], [0.9, 0.1]])
    got = pro_loss(s, torch.zeros_like(s), r, sft_weight=0.0)
    want = torch.stack([-torch.nn.functional.logsigmoid((r[i, 0] - r[i, 1]) * (s[i, 0] - s[i, 1])) for i in range(2)]).mean()
    torch.testing.assert_close(got, want)


def test_n3_by_hand():
    s = torch.tensor([[-1.0, -2.0, -3.0]])
    r = torch.tensor([[3.0, 2.0, 0.0]])
    # k=0: gaps (1, 3), T0 = 3: -log(e^{-3} / (e^{-3} + e^{-2*1} + e^{-3*3}))
    l0 = -math.log(math.exp(-3) / (math.exp(-3) + math.exp(-2) + math.exp(-9)))
    # k=1: gap (2), T1 = 2: -log(e^{-4} / (e^{-4} + e^{-6}))
    l1 = -math.log(math.exp(-4) / (math.exp(-4) + math.exp(-6)))
    sum_logps = torch.tensor([[-7.0, -1.0, -1.0]])
    got = pro_loss(s, sum_logps, r, sft_weight=0.1)
    assert float(got) == pytest.approx(l0 + l1 + 0.1 * 7.0 * (3 - 1) ** 2, rel=1e-6)


def test_prefers_the_right_order_and_has_gradient():
    r = torch.tensor([[2.0, 1.0, 0.0]])
    good = pro_loss(torch.tensor([[-1.0, -2.0, -3.0]]), torch.zeros(1, 3), r, 0.0)
    bad = pro_loss(torch.tensor([[-3.0, -2.0, -1.0]]), torch.zeros(1, 3), r, 0.0)
    assert good < bad
    s = torch.tensor([[-2.0, -2.0, -2.0]], requires_grad=True)
    pro_loss(s, torch.zeros(1, 3), r, 0.0).backward()
    assert s.grad[0, 0] < 0 and s.grad[0, 2] > 0  # push the best up, the worst down


def test_mask_for_ragged_lists_matches_unpadded():
    s = torch.tensor([[-1.0, -1.5, 0.0], [-0.3, -0.9, -1.1]])
    r = torch.tensor([[2.0, 1.0, 0.0], [5.0, 4.0, 1.0]])
    sums = torch.tensor([[-4.0, 0.0, 0.0], [-2.0, 0.0, 0.0]])
    mask = torch.tensor([[True, True, False], [True, True, True]])
    batched = pro_loss(s, sums, r, 0.05, mask=mask)
    a = pro_loss(s[:1, :2], sums[:1, :2], r[:1, :2], 0.05)
    b = pro_loss(s[1:], sums[1:], r[1:], 0.05)
    torch.testing.assert_close(batched, (a + b) / 2)


def test_errors():
    with pytest.raises(ValueError, match="at least 2 candidates, got n=1"):
        pro_loss(torch.zeros(2, 1), torch.zeros(2, 1), torch.zeros(2, 1))
    with pytest.raises(ValueError, match=r"must all be \[batch, n\]"):
        pro_loss(torch.zeros(2, 3), torch.zeros(2, 2), torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"lengths \[1\]"):
        pro_loss(torch.zeros(1, 3), torch.zeros(1, 3), torch.zeros(1, 3), mask=torch.tensor([[True, False, False]]))
