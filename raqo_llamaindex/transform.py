"""RAQOQueryTransform: RAQO as a LlamaIndex query transform."""

from __future__ import annotations

import asyncio
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
        rewriter: QueryRewriter | None = None,
        *,
        model: str = "embedded",
        adapter: str | None = "auto",
        mode: str = "recot",
        guard_threshold: float | None = 0.5,
        include_original_query: bool = False,
        device: str = "cpu",
        backend: str = "hf",
        api_key: str | None = None,
        **rewriter_kwargs: Any,
    ) -> None:
        """``backend``: the generator engine (``hf``, ``llamacpp[:FILE.gguf]``, ``openai:BASE_URL``);
        ``api_key``: for ``openai`` (else the ``OPENAI_API_KEY`` variable); other keywords go to
        :class:`~raqo_core.rewriter.rewriter.RewriterConfig`."""
        from raqo_core.rewriter.prompt import check_mode
        from raqo_core.rewriter.rewriter import Rewriter, RewriterConfig

        check_mode(mode)
        if rewriter is None:
            rewriter = Rewriter(
                RewriterConfig(
                    model=model,
                    adapter=adapter,
                    mode=mode,
                    guard_threshold=guard_threshold,
                    device=device,
                    backend=backend,
                    **rewriter_kwargs,
                ),
                api_key=api_key,
            )
        elif not isinstance(rewriter, QueryRewriter):
            raise TypeError(f"rewriter must be a raqo_core QueryRewriter, got {type(rewriter).__name__}")
        self.rewriter = rewriter
        self.include_original_query = include_original_query
        self.last_result: RewriteResult | None = None

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
        self.last_result = res
        metadata["raqo"] = res.to_dict()
        original = query_bundle.query_str
        strs = list(res.rewrites or [res.rewritten_query]) if res.applied else [original]
        if self.include_original_query and original not in strs:
            strs.append(original)
        return QueryBundle(query_str=original, image_path=query_bundle.image_path, custom_embedding_strs=strs)

    def run(self, query_bundle_or_str: QueryType, metadata: dict[str, Any] | None = None) -> QueryBundle:
        """Like ``BaseQueryTransform.run``, but writes into the caller's ``metadata`` dict even when it
        is empty (the base class replaces an empty dict with a new one)."""
        metadata = {} if metadata is None else metadata
        bundle = (
            QueryBundle(query_bundle_or_str, custom_embedding_strs=[query_bundle_or_str])
            if isinstance(query_bundle_or_str, str)
            else query_bundle_or_str
        )
        return self._run(bundle, metadata=metadata)

    def _run(self, query_bundle: QueryBundle, metadata: dict[str, Any]) -> QueryBundle:
        try:
            res = self.rewriter.rewrite(query_bundle.query_str)
        except Exception as exc:  # noqa: BLE001 - never lose the query
            res = RewriteResult.fallback(query_bundle.query_str, f"error: {type(exc).__name__}: {exc}"[:200])
        return self._bundle(query_bundle, res, metadata)

    async def arun(self, query_bundle_or_str: QueryType, metadata: dict[str, Any] | None = None) -> QueryBundle:
        """Async :meth:`run`: generation runs in a worker thread, off the event loop."""
        return await asyncio.to_thread(self.run, query_bundle_or_str, metadata)
