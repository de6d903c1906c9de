import math

import numpy as np
import pytest

from raqo_core.errors import RAQOError
from raqo_core.evaluation.paired import paired_bootstrap, pooled_paired_bootstrap, sign_test_p


def test_sign_test_matches_hand_computed_binomial():
    # 8 wins vs 2 losses: P(X <= 2 | n=10) = (1 + 10 + 45) / 1024; two-sided doubles it.
    assert sign_test_p(8, 2) == pytest.approx(2 * 56 / 1024)
    assert sign_test_p(2, 8) == pytest.approx(2 * 56 / 1024)
    assert sign_test_p(5, 5) == 1.0  # capped at 1
    assert sign_test_p(0, 0) == 1.0
    assert sign_test_p(6, 0) == pytest.approx(2 / 64)


def test_paired_bootstrap_counts_discordant_queries_and_delta():
    a = np.array([0, 0, 0, 3, 7, 0, 2, 0])  # hits at k=1: q0 q1 q2 q5 q7
    b = np.array([0, 4, 0, 0, 7, 9, 2, 1])  # hits at k=1: q0 q2 q3
    d = paired_bootstrap(a, b, k=1, n_boot=500)
    assert (d.a_only, d.b_only, d.n) == (3, 1, 8)
    assert d.delta == pytest.approx(100 * (5 - 3) / 8)
    assert d.low <= d.delta <= d.high
    assert d.p_value == pytest.approx(sign_test_p(3, 1))
    # at k=5 the only discordant query is q5 (A ranks it 0, B 9); both miss q4 (rank 7)
    d5 = paired_bootstrap(a, b, k=5, n_boot=200)
    assert (d5.a_only, d5.b_only) == (1, 0)


def test_identical_systems_give_a_zero_width_interval():
    r = np.arange(50) % 7
    d = paired_bootstrap(r, r.copy())
    assert (d.delta, d.low, d.high, d.a_only, d.b_only, d.p_value) == (0.0, 0.0, 0.0, 0, 0, 1.0)


def test_interval_narrows_with_more_queries_and_is_reproducible():
    rng = np.random.default_rng(1)
    small_a, small_b = rng.integers(0, 3, 100), rng.integers(0, 3, 100)
    big_a, big_b = np.tile(small_a, 16), np.tile(small_b, 16)
    s, b = paired_bootstrap(small_a, small_b, seed=3), paired_bootstrap(big_a, big_b, seed=3)
    assert b.delta == pytest.approx(s.delta)
    assert (b.high - b.low) < (s.high - s.low) / 2  # ~1/sqrt(16) of the width
    assert paired_bootstrap(small_a, small_b, seed=3) == s
    assert not math.isnan(s.low)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ranks_a": [0, 1], "ranks_b": [0]}, "equal-length"),
        ({"ranks_a": [], "ranks_b": []}, "at least one query"),
        ({"ranks_a": [0], "ranks_b": [0], "k": 0}, "k must be >= 1, got 0"),
        ({"ranks_a": [0], "ranks_b": [0], "confidence": 1.5}, "confidence must be in (0, 1), got 1.5"),
    ],
)
def test_bad_input_names_the_value(kwargs, message):
    with pytest.raises(RAQOError, match=message.replace("(", r"\(").replace(")", r"\)")):
        paired_bootstrap(**kwargs)


def test_report_pairs_every_ablation_row_with_full():
    from raqo_core.evaluation.paper_tables import paired_vs_full

    full = {"t2i_ranks": [0, 0, 3, 0]}
    table4 = {"full": full, "no_pro": {"t2i_ranks": [0, 2, 3, 0]}, "no_ccr": {"t2i_ranks": [9, 9, 9, 9]}}
    out = paired_vs_full(None, table4)
    assert sorted(out) == ["no_ccr", "no_pro"]
    assert [d.k for d in out["no_pro"]] == [1, 5, 10]
    assert out["no_pro"][0].delta == pytest.approx(25.0) and out["no_pro"][1].delta == 0.0
    assert (out["no_ccr"][0].a_only, out["no_ccr"][0].b_only) == (3, 0)
    assert out["no_ccr"][1].delta == pytest.approx(100.0)  # R@5: full has all four, no_ccr (rank 9) none
    assert out["no_ccr"][2].delta == 0.0  # R@10: rank 9 counts for both
    assert paired_vs_full(None, {"no_pro": table4["no_pro"]}) == {}  # nothing to pair with


def test_pooled_delta_is_the_mean_of_replicate_deltas():
    a1, b1 = [0, 0, 3, 0], [0, 2, 0, 5]  # k=1: A hits q0 q1 q3, B hits q0 q2 -> +25 points
    a2, b2 = [1, 0, 0, 0], [0, 0, 0, 0]  # A misses q0 only -> -25 points
    single = pooled_paired_bootstrap([(a1, b1)], n_boot=300)
    ref = paired_bootstrap(a1, b1, n_boot=1)
    assert (single.delta, single.a_only, single.b_only) == (ref.delta, ref.a_only, ref.b_only)
    both = pooled_paired_bootstrap([(a1, b1), (a2, b2)], n_boot=300)
    assert both.replicate_deltas == (25.0, -25.0) and both.replicates_positive == 1
    assert both.delta == pytest.approx(0.0) and both.p_value == 1.0
    assert (both.a_only, both.b_only, both.n) == (2, 2, 4)


def test_pooling_copies_of_one_replicate_adds_no_evidence():
    # a naive pooled sign test would count each discordant query four times; resampling whole queries does not
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 3, 300), rng.integers(0, 3, 300)
    one = pooled_paired_bootstrap([(a, b)], seed=5)
    four = pooled_paired_bootstrap([(a, b)] * 4, seed=5)
    assert (four.delta, four.low, four.high, four.p_value) == pytest.approx((one.delta, one.low, one.high, one.p_value))
    assert four.a_only == 4 * one.a_only


def test_pooled_test_detects_a_consistent_gain_and_not_a_null():
    hit, miss = np.zeros(200, int), np.full(200, 9)
    strong = pooled_paired_bootstrap([(hit, miss), (hit, miss)], n_boot=999)
    assert strong.delta == 100.0 and strong.low == strong.high == 100.0
    assert strong.p_value == pytest.approx(1 / 1000)  # no sign flip reaches the observed mean
    same = pooled_paired_bootstrap([(hit, hit.copy())], n_boot=50)
    assert (same.delta, same.low, same.high, same.p_value) == (0.0, 0.0, 0.0, 1.0)


@pytest.mark.parametrize(
    ("pairs", "kwargs", "message"),
    [
        ([], {}, "at least one (ranks_a, ranks_b) pair, got none"),
        ([([0, 1], [0, 1]), ([0], [0])], {}, "must share their queries, got query counts [2, 1]"),
        ([([0], [0])], {"k": 0}, "k must be >= 1, got 0"),
        ([([0], [0])], {"n_boot": 0}, "n_boot must be >= 1, got 0"),
    ],
)
def test_pooled_bad_input_names_the_value(pairs, kwargs, message):
    import re

    with pytest.raises(RAQOError, match=re.escape(message)):
        pooled_paired_bootstrap(pairs, **kwargs)


def test_sign_test_and_bootstrap_agree_with_scipy():
    """Against scipy.stats on random inputs: the exact binomial test, and a percentile bootstrap of the mean."""
    from scipy import stats

    from raqo_core.evaluation.paired import paired_bootstrap, sign_test_p

    rng = np.random.default_rng(3)
    for _ in range(40):
        w, lo = (int(x) for x in rng.integers(0, 60, 2))
        want = stats.binomtest(w, w + lo, 0.5).pvalue if w + lo else 1.0
        assert sign_test_p(w, lo) == pytest.approx(want, rel=1e-9, abs=1e-12)
    for n in (150, 600):
        a, b = rng.integers(0, 12, n), rng.integers(0, 12, n)
        d = paired_bootstrap(a, b, k=3, n_boot=4000, seed=1)
        diff = (a < 3).astype(float) - (b < 3).astype(float)
        ci = stats.bootstrap((diff,), np.mean, n_resamples=4000, method="percentile", random_state=2).confidence_interval
        assert d.delta == pytest.approx(100 * diff.mean())
        se = 100 * diff.std() / np.sqrt(n)  # two Monte Carlo bootstraps: the ends agree within a quarter of a standard error
        assert abs(d.low - 100 * ci.low) < 0.25 * se and abs(d.high - 100 * ci.high) < 0.25 * se
