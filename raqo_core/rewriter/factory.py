"""Build a rewriter from a name: ``raqo`` (ReCoT), ``llm-rewrite``, ``wordnet``, ``visual-description``."""

from __future__ import annotations

from typing import Any

from raqo_core.errors import RAQOError
from raqo_core.rewriter.base import QueryRewriter

REWRITERS = ("raqo", "llm-rewrite", "wordnet", "visual-description")


def build_rewriter(
    name: str = "raqo", *, model: str = "embedded", adapter: str | None = None, mode: str = "recot", device: str = "cpu", **kwargs: Any
) -> QueryRewriter:
    """``kwargs`` go to the rewriter's config (e.g. ``timeout_s=None`` for offline evaluation)."""
    if name == "raqo":
        from raqo_core.rewriter.rewriter import Rewriter, RewriterConfig

        api_key = kwargs.pop("api_key", None)  # a secret: passed to the engine, never part of the config
        return Rewriter(RewriterConfig(model=model, adapter=adapter, mode=mode, device=device, **kwargs), api_key=api_key)
    if adapter:
        raise RAQOError(f"rewriter {name!r} takes no adapter (got {adapter!r}); adapters belong to 'raqo'")
    if name == "llm-rewrite":
        from raqo_core.rewriter.baselines import LLMRewrite

        return LLMRewrite(model, device=device, **kwargs)
    if name == "visual-description":
        from raqo_core.rewriter.baselines import VisualDescriptionAppend

        return VisualDescriptionAppend(model, device=device, **kwargs)
    if name == "wordnet":
        from raqo_core.rewriter.baselines import WordNetExpansion

        kwargs.pop("timeout_s", None)  # nothing to time out
        return WordNetExpansion(**kwargs)
    raise RAQOError(f"unknown rewriter {name!r}; expected one of {REWRITERS}")
