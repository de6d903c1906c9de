"""What every rewrite returns: the user's query always survives."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class RewriteResult:
    """One rewrite decision.

    ``rewritten_query`` is what to search with: the rewrite when ``applied``, else the
    original. ``reason`` says why (``rewritten``, ``no challenging concepts``,
    ``guard: similarity 0.31 < 0.50``, ``unparseable output: …``, ``timeout``, ``error: …``,
    ``empty query``). ``rewrites`` holds all sampled rewrites when ``n_rewrites > 1``.
    """

    original_query: str
    rewritten_query: str
    concepts: list[str]
    applied: bool
    reason: str
    latency_ms: float
    rewrites: list[str] = field(default_factory=list)
    cached: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def fallback(cls, query: str, reason: str, latency_ms: float = 0.0, concepts: list[str] | None = None) -> RewriteResult:
        return cls(query, query, list(concepts or []), False, reason, latency_ms)
