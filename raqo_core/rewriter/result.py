"""What every rewrite returns: the user's query always survives."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

NOT_CACHED = ("error", "timeout", "truncated")


@dataclass(frozen=True)
class RewriteResult:
    """One rewrite decision.

    ``rewritten_query`` is what to search with: the rewrite when ``applied``, else the
    original. ``reason`` says why (``rewritten``, ``no challenging concepts``,
    ``guard: similarity 0.31 < 0.50``, ``unparseable output: …``, ``timeout``, ``truncated: …`` (the
    answer hit the token cap), ``error: …``,
    ``empty query``; with a look-up: ``rewritten+lookup``, ``lookup+rewritten``, ``lookup``, and
    ``lookup (model: REASON)`` when the look-up changed the query and the model's answer after it failed). ``rewrites`` holds all sampled rewrites
    when ``n_rewrites > 1``; ``hints`` what the look-up did with each weak word.
    """

    original_query: str
    rewritten_query: str
    concepts: list[str]
    applied: bool
    reason: str
    latency_ms: float
    rewrites: list[str] = field(default_factory=list)
    cached: bool = False
    hints: list[dict[str, Any]] = field(default_factory=list)  # the look-up's decisions (raqo_core.lookup.Hint.to_dict())

    @property
    def cacheable(self) -> bool:
        """False for failures that may not recur (errors, timeouts, answers cut off by the token cap)."""
        return not self.reason.startswith(NOT_CACHED)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def fallback(cls, query: str, reason: str, latency_ms: float = 0.0, concepts: list[str] | None = None) -> RewriteResult:
        return cls(query, query, list(concepts or []), False, reason, latency_ms)
