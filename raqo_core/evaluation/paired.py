"""Paired comparison of two systems on the same queries: is a recall difference real?

Ablation rows differ by a point or two of R@1 on a few hundred queries, about the size of the
sampling noise. Every row is evaluated on the *same* queries, so the comparison is paired: per
query, did A hit and B miss (or the reverse)? Only those discordant queries carry information.

- :func:`paired_bootstrap` resamples queries with replacement and gives a percentile confidence
  interval for ``R@k(A) - R@k(B)``.
- :func:`sign_test_p` is the exact two-sided sign (McNemar) test on the discordant counts.
- :func:`pooled_paired_bootstrap` averages several replicate pairs on the same queries (e.g. one
  recipe trained with several seeds, each against its own baseline). Summing their discordant
  counts into one sign test would count each query once per replicate as if independent; it
  resamples and sign-flips whole queries instead.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from raqo_core.errors import RAQOError


@dataclass(frozen=True)
class PairedDelta:
    """``R@k(A) - R@k(B)`` in points, its bootstrap interval and the discordant counts."""

    k: int
    delta: float
    low: float
    high: float
    a_only: int  # queries A gets right at k and B does not
    b_only: int
    p_value: float  # exact two-sided sign test on (a_only, b_only)
    n: int
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.delta:+.1f} [{self.low:+.1f}, {self.high:+.1f}] ({self.a_only} vs {self.b_only}, p={self.p_value:.2f})"


def sign_test_p(wins: int, losses: int) -> float:
    """Exact two-sided binomial test of ``wins`` vs ``losses`` under p = 0.5 (ties dropped)."""
    if wins < 0 or losses < 0:
        raise RAQOError(f"counts must be >= 0, got wins={wins}, losses={losses}")
    n = wins + losses
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(wins, losses) + 1)) / 2.0**n
    return min(1.0, 2.0 * tail)


def _hit_diff(ranks_a: np.ndarray | list[int], ranks_b: np.ndarray | list[int], k: int, n_boot: int, confidence: float) -> np.ndarray:
    """Per query: +1 only A ranks the target within ``k``, -1 only B, 0 both or neither (inputs checked)."""
    a = np.asarray(ranks_a)
    b = np.asarray(ranks_b)
    if a.shape != b.shape or a.ndim != 1:
        raise RAQOError(f"paired ranks need two equal-length 1-D arrays, got shapes {a.shape} and {b.shape}")
    if a.size == 0:
        raise RAQOError("paired comparison needs at least one query, got none")
    if k < 1:
        raise RAQOError(f"k must be >= 1, got {k}")
    if n_boot < 1:
        raise RAQOError(f"n_boot must be >= 1, got {n_boot}")
    if not 0.0 < confidence < 1.0:
        raise RAQOError(f"confidence must be in (0, 1), got {confidence}")
    return (a < k).astype(np.int8) - (b < k).astype(np.int8)


def paired_bootstrap(
    ranks_a: np.ndarray | list[int],
    ranks_b: np.ndarray | list[int],
    *,
    k: int = 1,
    n_boot: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> PairedDelta:
    """Compare two systems' ranks (0 = top) on the same queries at recall@``k``."""
    diff = _hit_diff(ranks_a, ranks_b, k, n_boot, confidence)
    rng = np.random.default_rng(seed)
    boots = np.empty(n_boot)
    for s in range(0, n_boot, 256):  # resample in blocks to bound memory on large query sets
        m = min(256, n_boot - s)
        idx = rng.integers(0, diff.size, size=(m, diff.size))
        boots[s : s + m] = diff[idx].mean(axis=1)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(boots, [alpha, 1.0 - alpha])
    a_only, b_only = int((diff == 1).sum()), int((diff == -1).sum())
    return PairedDelta(
        k=k,
        delta=float(100.0 * diff.mean()),
        low=float(100.0 * low),
        high=float(100.0 * high),
        a_only=a_only,
        b_only=b_only,
        p_value=sign_test_p(a_only, b_only),
        n=int(diff.size),
        confidence=confidence,
    )


@dataclass(frozen=True)
class PooledDelta:
    """Mean ``R@k(A) - R@k(B)`` over replicate pairs on the same queries, in points."""

    k: int
    delta: float  # mean over replicates (= mean over queries of the per-query mean difference)
    low: float  # percentile interval from resampling queries (replicates held fixed)
    high: float
    p_value: float  # two-sided sign-flip randomisation test, one flip per query for all replicates
    replicate_deltas: tuple[float, ...]
    replicates_positive: int
    a_only: int  # summed over replicates: a query counts once in each replicate where it is discordant
    b_only: int
    n: int
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        return (
            f"{self.delta:+.2f} [{self.low:+.2f}, {self.high:+.2f}] (p={self.p_value:.3f}; "
            f"{self.replicates_positive}/{len(self.replicate_deltas)} replicates > 0)"
        )


def pooled_paired_bootstrap(
    pairs: Sequence[tuple[np.ndarray | list[int], np.ndarray | list[int]]],
    *,
    k: int = 1,
    n_boot: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> PooledDelta:
    """Pool replicate ``(ranks_a, ranks_b)`` pairs that share their queries.

    Per query, the difference ``hit_a - hit_b`` is averaged over replicates; the interval resamples
    those per-query means and the p-value flips their signs (A and B exchangeable per query). Both
    keep a query's outcomes in every replicate together, so the same hard query is not counted as
    independent evidence once per seed. The replicates themselves are held fixed: seed-to-seed
    spread is reported as ``replicate_deltas``, not folded into the interval.
    """
    if not pairs:
        raise RAQOError("pooled comparison needs at least one (ranks_a, ranks_b) pair, got none")
    per_pair = [_hit_diff(a, b, k, n_boot, confidence) for a, b in pairs]
    n = per_pair[0].size
    if any(d.size != n for d in per_pair):
        raise RAQOError(f"pooled pairs must share their queries, got query counts {[d.size for d in per_pair]}")
    diffs = np.stack(per_pair)
    per_query = diffs.mean(axis=0)
    observed = float(per_query.mean())
    rng = np.random.default_rng(seed)
    boots = np.empty(n_boot)
    flips = np.empty(n_boot)
    for s in range(0, n_boot, 256):
        m = min(256, n_boot - s)
        boots[s : s + m] = per_query[rng.integers(0, n, size=(m, n))].mean(axis=1)
        flips[s : s + m] = (per_query * rng.choice(np.array([-1.0, 1.0]), size=(m, n))).mean(axis=1)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(boots, [alpha, 1.0 - alpha])
    # the +1s count the observed assignment itself, so p is never 0 (a valid Monte Carlo p-value)
    p = (1 + int((np.abs(flips) >= abs(observed) - 1e-12).sum())) / (n_boot + 1) if observed else 1.0
    reps = tuple(float(100.0 * d.mean()) for d in per_pair)
    return PooledDelta(
        k=k,
        delta=100.0 * observed,
        low=float(100.0 * low),
        high=float(100.0 * high),
        p_value=float(p),
        replicate_deltas=reps,
        replicates_positive=sum(1 for r in reps if r > 0),
        a_only=int((diffs == 1).sum()),
        b_only=int((diffs == -1).sum()),
        n=n,
        confidence=confidence,
    )
