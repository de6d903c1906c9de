"""RAQOQueryTransform: RAQO as a LlamaIndex query transform."""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

from llama_index.core.indices.query.query_transform.base import BaseQueryTransform
from llama_index.core.prompts import PromptTemplate
from llama_index.core.prompts.mixin import PromptDictType
from llama_index.core.schema import QueryBundle, QueryType

from raqo_core.rewriter.base import QueryRewriter
from raqo_core.rewriter.result import RewriteResult


class RAQOQueryTransform(BaseQueryTransform):
    """Detect-then-rewrite the query for the retriever; the original always survives.

    ``_run`` returns ``QueryBundle(query_str=<original>, custom_embedding_strs=[<rewrite>]
    (+ <original> when include_original_query), image_path=<kept>)``: LlamaIndex's multimodal
    retriever embeds ``embedding_strs`` (and averages several), so that is where a rewrite must
    go. The decision (concepts, applied, reason, latency) is written into the ``metadata`` dict
    passed to :meth:`run` under ``"raqo"`` and kept as :attr:`last_result`.
    """

    def __init__(
        self,
        rewriter: QueryRewriter | str | None = None,
        *,
        include_original_query: bool = False,
        api_key: str | None = None,
        attributions: Any = None,
        **settings: Any,
    ) -> None:
        """``rewriter``: a ``raqo_core`` rewriter object, or a name (``raqo``, the default, or a baseline) built
        from ``settings`` — any :class:`~raqo_core.rewriter.rewriter.RewriterConfig` field (``model``, ``adapter``
        (default ``auto``: the shipped adapter), ``lookup`` (default ``auto``: the retriever look-up the
        adapter names, before it; None turns it off; ``metadata["raqo"]["hints"]`` says what it did), ``mode``, ``backend`` (``hf``, ``llamacpp[:FILE.gguf]``,
        ``openai:BASE_URL``), ``guard_threshold``, ``device`` …); ``api_key``: for ``openai`` (else the
        ``OPENAI_API_KEY`` variable); ``attributions`` (off by default): a retriever spec or open_clip retriever —
        ``metadata["raqo"]["attributions"]`` then holds word attributions of the query and its rewrite
        (:class:`raqo_core.explain.TokenAttributor`)."""
        from raqo_core.rewriter.factory import build_rewriter

        if rewriter is None or isinstance(rewriter, str):
            rewriter = build_rewriter(rewriter or "raqo", api_key=api_key, **settings)
        elif not isinstance(rewriter, QueryRewriter):
            raise TypeError(f"rewriter must be a raqo_core QueryRewriter or a rewriter name, got {type(rewriter).__name__}")
        elif settings:
            raise TypeError(
                f"settings {sorted(settings)} apply to a rewriter built by name; the {type(rewriter).__name__} given has its own"
            )
        self.rewriter = rewriter
        self.include_original_query = include_original_query
        self._attributor: Any = None
        if attributions is not None:
            from raqo_core.explain.attribution import TokenAttributor

            self._attributor = TokenAttributor(attributions)
        # per thread and per asyncio task: concurrent calls each see their own decision
        self._last: contextvars.ContextVar[RewriteResult | None] = contextvars.ContextVar(f"raqo_last_{id(self)}", default=None)

    @property
    def last_result(self) -> RewriteResult | None:
        """The decision of this thread's (or this asyncio task's) latest call."""
        return self._last.get()

    # -- prompts -----------------------------------------------------------------------------
    def _get_prompts(self) -> PromptDictType:
        from raqo_core.rewriter.prompt import default_system_prompt

        cfg = getattr(self.rewriter, "config", None)
        if cfg is None:
            return {}
        return {"rewrite_prompt": PromptTemplate(cfg.system_prompt or default_system_prompt(cfg.mode))}

    def _update_prompts(self, prompts: PromptDictType) -> None:
        cfg = getattr(self.rewriter, "config", None)
        if "rewrite_prompt" in prompts and cfg is not None:
            p = prompts["rewrite_prompt"]
            cfg.system_prompt = p.get_template() if hasattr(p, "get_template") else str(p)
            self.rewriter.clear_cache()  # type: ignore[attr-defined]

    # -- running -----------------------------------------------------------------------------
    def _bundle(self, query_bundle: QueryBundle, res: RewriteResult, metadata: dict[str, Any]) -> QueryBundle:
        self._last.set(res)
        metadata["raqo"] = res.to_dict()
        if self._attributor is not None:
            metadata["raqo"]["attributions"] = self._attributor.for_result(res)
        original = query_bundle.query_str
        strs = list(res.rewrites or [res.rewritten_query]) if res.applied else [original]
        if self.include_original_query and original not in strs:
            strs.append(original)
        return QueryBundle(query_str=original, image_path=query_bundle.image_path, custom_embedding_strs=strs)

    @staticmethod
    def _coerce(query_bundle_or_str: QueryType) -> QueryBundle:
        if isinstance(query_bundle_or_str, str):
            return QueryBundle(query_bundle_or_str, custom_embedding_strs=[query_bundle_or_str])
        if isinstance(query_bundle_or_str, QueryBundle):
            return query_bundle_or_str
        raise TypeError(f"RAQOQueryTransform expects a query string or a QueryBundle, got {type(query_bundle_or_str).__name__}")

    def _rewrite(self, query: str) -> RewriteResult:
        try:
            return self.rewriter.rewrite(query)
        except Exception as exc:  # noqa: BLE001 - never lose the query
            return RewriteResult.fallback(query, f"error: {type(exc).__name__}: {exc}"[:200])

    def run(self, query_bundle_or_str: QueryType, metadata: dict[str, Any] | None = None) -> QueryBundle:
        """Like ``BaseQueryTransform.run``, but writes into the caller's ``metadata`` dict even when it
        is empty (the base class replaces an empty dict with a new one)."""
        return self._run(self._coerce(query_bundle_or_str), {} if metadata is None else metadata)

    def _run(self, query_bundle: QueryBundle, metadata: dict[str, Any]) -> QueryBundle:
        return self._bundle(query_bundle, self._rewrite(query_bundle.query_str), metadata)

    async def arun(self, query_bundle_or_str: QueryType, metadata: dict[str, Any] | None = None) -> QueryBundle:
        """Async :meth:`run`: generation runs in a worker thread, off the event loop; :attr:`last_result` is this task's."""
        bundle = self._coerce(query_bundle_or_str)
        res = await asyncio.to_thread(self._rewrite, bundle.query_str)
        return self._bundle(bundle, res, {} if metadata is None else metadata)
