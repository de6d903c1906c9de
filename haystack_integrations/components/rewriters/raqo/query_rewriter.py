"""RAQOQueryRewriter: the RAQO node for Haystack pipelines (conventions of ``QueryExpander``)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from haystack import component, default_from_dict, default_to_dict, logging
from haystack.utils import Secret, deserialize_secrets_inplace

logger = logging.getLogger(__name__)


@component
class RAQOQueryRewriter:
    """Rewrites a query into the phrasing the retriever understands (detect-then-rewrite, ReCoT).

    The original query is never lost: on any failure (model error, timeout, unparseable output,
    intent-guard rejection) ``query`` is the original and ``meta["reason"]`` says why.

    ```python
    from haystack import Pipeline
    from raqo_haystack import RAQOQueryRewriter, OpenCLIPTextToImageRetriever

    p = Pipeline()
    p.add_component("rewriter", RAQOQueryRewriter())          # embedded SmolLM2 by default
    p.add_component("retriever", OpenCLIPTextToImageRetriever(retriever=QdrantEmbeddingRetriever(store)))
    p.connect("rewriter.query", "retriever.query")
    p.run({"rewriter": {"query": "a crimson orb to the west of a cobalt tile"}})
    ```

    Outputs: ``query`` (rewritten or original), ``queries`` (the rewrite(s), plus the original when
    ``include_original_query``; drops into multi-query retrievers), ``concepts`` (the challenging
    concepts detected) and ``meta`` (``original_query``, ``applied``, ``reason``, ``latency_ms``).
    """

    def __init__(
        self,
        *,
        rewriter: str = "raqo",
        model: str = "embedded",
        adapter: str | None = "auto",
        mode: str = "recot",
        guard_threshold: float | None = 0.5,
        include_original_query: bool = False,
        n_rewrites: int = 1,
        device: str = "cpu",
        max_new_tokens: int = 64,
        timeout_s: float | None = 10.0,
        batch_size: int = 8,
        retriever_fingerprint: str | None = None,
        grounded_concepts: bool = True,
        backend: str = "hf",
        engine_model: str | None = None,
        api_key: Secret | None = None,
    ) -> None:
        """
        :param rewriter: ``raqo`` (ReCoT) or a baseline: ``llm-rewrite``, ``wordnet``, ``visual-description``.
        :param model: rewriter base LM: ``embedded`` (SmolLM2-135M-Instruct, no download), an HF id or a folder.
        :param adapter: a RAQO LoRA adapter folder (trained for your retriever) or hub id; ``auto`` uses the
            adapter shipped for the embedded retriever and ``mode`` (ReCoT, or direct for ``mode="direct"``)
            when ``model="embedded"``.
        :param mode: ``recot`` (detect then rewrite), ``direct`` (rewrite only) or ``detect`` (concepts only).
        :param guard_threshold: minimum text similarity between the query and its rewrite; ``None`` disables.
        :param include_original_query: also put the original query in ``queries``.
        :param n_rewrites: sample several rewrites (for multi-query retrievers).
        :param device: torch device for the rewriter.
        :param max_new_tokens: generation cap (an answer that reaches it is cut off: the original query is used).
        :param timeout_s: generation time limit; on expiry the original query is used.
        :param batch_size: queries per generation call (document rewriting).
        :param retriever_fingerprint: warn if the adapter was trained for another retriever.
        :param grounded_concepts: ``recot``/``detect``: ``concepts`` may only quote the query (constrained decoding).
        :param backend: the generator engine: ``hf`` (transformers in-process), ``llamacpp`` (llama.cpp in-process;
            ``llamacpp:FILE.gguf`` for a file from ``raqo export-rewriter``) or ``openai:BASE_URL`` (vLLM, llama.cpp's
            server, Ollama, TGI: any OpenAI-compatible ``/v1/completions``).
        :param engine_model: ``openai``: the served model name (default: the server's first model).
        :param api_key: ``openai``: the server's API key (default: the ``OPENAI_API_KEY`` variable, if set).
        """
        from raqo_core.rewriter.factory import REWRITERS
        from raqo_core.rewriter.prompt import check_mode
        from raqo_core.rewriter.rewriter import RewriterConfig

        if rewriter not in REWRITERS:
            raise ValueError(f"unknown rewriter {rewriter!r}; expected one of {REWRITERS}")
        if adapter and adapter != "auto" and rewriter != "raqo":
            raise ValueError(f"adapter {adapter!r} given, but rewriter {rewriter!r} takes no adapter")
        check_mode(mode)
        RewriterConfig(
            model=model,
            adapter=adapter,
            mode=mode,
            guard_threshold=guard_threshold,
            n_rewrites=n_rewrites,
            max_new_tokens=max_new_tokens,
            timeout_s=timeout_s,
            batch_size=batch_size,
            backend=backend,
        ).validate()
        self.rewriter = rewriter
        self.model = model
        self.adapter = adapter
        self.mode = mode
        self.guard_threshold = guard_threshold
        self.include_original_query = include_original_query
        self.n_rewrites = n_rewrites
        self.device = device
        self.max_new_tokens = max_new_tokens
        self.timeout_s = timeout_s
        self.batch_size = batch_size
        self.retriever_fingerprint = retriever_fingerprint
        self.grounded_concepts = grounded_concepts
        self.backend = backend
        self.engine_model = engine_model
        self.api_key = api_key if api_key is not None else Secret.from_env_var("OPENAI_API_KEY", strict=False)
        self._impl: Any = None
        self._warm_lock = threading.Lock()

    # -- lifecycle -----------------------------------------------------------------------
    def _build(self) -> Any:
        from raqo_core.rewriter.factory import build_rewriter

        if self.rewriter == "raqo":
            return build_rewriter(
                "raqo",
                model=self.model,
                adapter=self.adapter,
                mode=self.mode,
                device=self.device,
                guard_threshold=self.guard_threshold,
                n_rewrites=self.n_rewrites,
                max_new_tokens=self.max_new_tokens,
                timeout_s=self.timeout_s,
                batch_size=self.batch_size,
                retriever_fingerprint=self.retriever_fingerprint,
                grounded_concepts=self.grounded_concepts,
                backend=self.backend,
                engine_model=self.engine_model,
                api_key=self.api_key.resolve_value() if self.api_key else None,
            )
        return build_rewriter(self.rewriter, model=self.model, device=self.device)  # baselines take no adapter

    def warm_up(self) -> None:
        """Load the rewriter model, adapter and guard (once). Raises on misconfiguration."""
        with self._warm_lock:  # concurrent first calls load the model once
            if self._impl is None:
                impl = self._build()
                impl.load()
                self._impl = impl

    async def warm_up_async(self) -> None:
        """Load off the event loop (model loading is blocking I/O + compute)."""
        if self._impl is None:
            await asyncio.get_running_loop().run_in_executor(None, self.warm_up)

    def close(self) -> None:
        """Release the model."""
        self._impl = None

    async def close_async(self) -> None:
        self.close()

    # -- serialisation -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return default_to_dict(
            self,
            rewriter=self.rewriter,
            model=self.model,
            adapter=self.adapter,
            mode=self.mode,
            guard_threshold=self.guard_threshold,
            include_original_query=self.include_original_query,
            n_rewrites=self.n_rewrites,
            device=self.device,
            max_new_tokens=self.max_new_tokens,
            timeout_s=self.timeout_s,
            batch_size=self.batch_size,
            retriever_fingerprint=self.retriever_fingerprint,
            grounded_concepts=self.grounded_concepts,
            backend=self.backend,
            engine_model=self.engine_model,
            api_key=self.api_key.to_dict() if self.api_key else None,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RAQOQueryRewriter:
        data = {**data, "init_parameters": dict(data.get("init_parameters", {}))}  # the caller's dict stays as it was
        deserialize_secrets_inplace(data["init_parameters"], keys=["api_key"])
        return default_from_dict(cls, data)

    # -- running -------------------------------------------------------------------------
    def _output(self, query: str, res: Any) -> dict[str, Any]:
        rewrites = (res.rewrites or [res.rewritten_query]) if res.applied else [query]
        queries = list(rewrites)
        if self.include_original_query and query.lower() not in [q.lower() for q in queries]:
            queries.append(query)
        return {
            "query": res.rewritten_query,
            "queries": queries,
            "concepts": list(res.concepts),
            "meta": {
                "original_query": query,
                "applied": res.applied,
                "reason": res.reason,
                "latency_ms": res.latency_ms,
                "cached": res.cached,
                "rewriter": self.rewriter,
            },
        }

    def _fallback(self, query: Any, reason: str) -> dict[str, Any]:
        q = query if isinstance(query, str) else ""
        return {
            "query": q,
            "queries": [q] if q else [],
            "concepts": [],
            "meta": {
                "original_query": q,
                "applied": False,
                "reason": reason,
                "latency_ms": 0.0,
                "cached": False,
                "rewriter": self.rewriter,
            },
        }

    @component.output_types(query=str, queries=list[str], concepts=list[str], meta=dict[str, Any])
    def run(self, query: str) -> dict[str, Any]:
        """Rewrite ``query``; never raises: any failure returns the original query with the reason."""
        if not isinstance(query, str) or not query.strip():
            logger.warning("Empty query given to RAQOQueryRewriter; passing it through unchanged.")
            return self._fallback(query, "empty query")
        try:
            self.warm_up()
            return self._output(query, self._impl.rewrite(query))
        except Exception as exc:  # noqa: BLE001 - the pipeline must keep running
            logger.exception("RAQO rewriting failed for {query}; using the original query. Error: {error}", query=query, error=str(exc))
            return self._fallback(query, f"error: {type(exc).__name__}: {exc}"[:200])

    @component.output_types(query=str, queries=list[str], concepts=list[str], meta=dict[str, Any])
    async def run_async(self, query: str) -> dict[str, Any]:
        """Like :meth:`run`, with generation off the event loop."""
        try:
            await self.warm_up_async()
        except Exception as exc:
            logger.exception("RAQO rewriter failed to load; using the original query. Error: {error}", error=str(exc))
            return self._fallback(query, f"error: {type(exc).__name__}: {exc}"[:200])
        return await asyncio.get_running_loop().run_in_executor(None, self.run, query)
