"""The interface every query rewriter (RAQO and the baselines) implements."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from raqo_core.rewriter.result import RewriteResult


def check_queries(queries: Sequence[str]) -> list[str]:
    """A list of strings, checked before any work: a non-string is a programming error, named with its index."""
    from raqo_core.errors import RAQOError

    if isinstance(queries, str):
        raise RAQOError("rewrite_batch takes a list of queries, got a single string")
    out = list(queries)
    for i, q in enumerate(out):
        if not isinstance(q, str):
            raise RAQOError(f"queries[{i}] must be a string, got {type(q).__name__} ({q!r:.40})")
    return out


class QueryRewriter:
    """Subclasses implement :meth:`rewrite_batch` and :attr:`fingerprint`."""

    @property
    def fingerprint(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def load(self) -> QueryRewriter:
        return self

    def rewrite_batch(self, queries: Sequence[str], batch_size: int | None = None) -> list[RewriteResult]:  # pragma: no cover
        raise NotImplementedError

    def rewrite(self, query: str) -> RewriteResult:
        return self.rewrite_batch([query])[0]

    def as_text_map(self, batch_size: int | None = None) -> Callable[[Sequence[str]], list[str]]:
        """A ``list[str] -> list[str]`` function for the evaluation hooks."""
        return lambda texts: [r.rewritten_query for r in self.rewrite_batch(list(texts), batch_size)]
