"""The interface every query rewriter (RAQO and the baselines) implements."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from raqo_core.rewriter.result import RewriteResult


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
