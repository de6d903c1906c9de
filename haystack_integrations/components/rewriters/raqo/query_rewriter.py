"""RAQOQueryRewriter: the RAQO node for Haystack pipelines (conventions of ``QueryExpander``)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from haystack import component, default_from_dict, default_to_dict, logging
from haystack.core.errors import SerializationError
from haystack.utils import ComponentDevice, Secret, deserialize_secrets_inplace

from haystack_integrations.utils.raqo import device_from_init, resolve_device
from raqo_core.errors import RAQOError
from raqo_core.rewriter.base import QueryRewriter

logger = logging.getLogger(__name__)


def _check_query(query: Any) -> None:
    if not isinstance(query, str):
        raise TypeError(
            f"RAQOQueryRewriter expects a string query, got {type(query).__name__}; "
            "for a list of texts use RAQODocumentRewriter (documents) or call it once per query"
        )


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
        rewriter: str | QueryRewriter = "raqo",
        include_original_query: bool = False,
        device: ComponentDevice | str | None = None,
        api_key: Secret | None = None,
        attributions: str | None = None,
        **settings: Any,
    ) -> None:
        """
        :param rewriter: ``raqo`` (ReCoT, the default) or a baseline (``llm-rewrite``, ``wordnet``,
            ``visual-description``) — or a rewriter object (any ``raqo_core`` ``QueryRewriter``), as
            ``QueryExpander`` takes a chat generator.
        :param include_original_query: also put the original query in ``queries``.
        :param device: where the rewriter's model runs (default: the device Haystack detects).
        :param api_key: for ``backend="openai:…"`` (default: the ``OPENAI_API_KEY`` variable, if set).
        :param attributions: off by default. A retriever spec (``embedded``, ``open_clip:MODEL/TAG``; it needs the
            torch model, not an ONNX export): ``meta["attributions"]`` then holds integrated-gradients word
            attributions of the query and of its rewrite (each against its own embedding; see
            :class:`raqo_core.explain.TokenAttributor`). Costs a few text-encoder passes per call.
        :param settings: any :class:`raqo_core.rewriter.rewriter.RewriterConfig` field, with its defaults —
            ``model`` (``embedded``), ``adapter`` (``auto``: the shipped adapter for the embedded base and
            ``mode``), ``mode`` (``recot`` | ``direct`` | ``detect``), ``backend`` (``hf`` | ``llamacpp[:…]`` |
            ``openai:BASE_URL``), ``guard_threshold``, ``max_new_tokens``, ``timeout_s``, ``n_rewrites``,
            ``batch_size``, ``retriever_fingerprint``, ``grounded_concepts``, ``lookup`` (``auto``: the look-up
            the adapter names, the shipped one for the shipped adapters; ``embedded``, a ``raqo lookup build`` folder, or
            None to turn it off; ``meta["hints"]`` says what it did) …; ``RewriterConfig`` documents each.
        """
        from raqo_core.rewriter.base import QueryRewriter as _QR
        from raqo_core.rewriter.factory import config_with, rewriter_names

        if isinstance(rewriter, str):
            if rewriter not in rewriter_names():
                raise ValueError(f"unknown rewriter {rewriter!r}; expected one of {rewriter_names()} or a QueryRewriter object")
        elif not isinstance(rewriter, _QR):
            raise TypeError(f"rewriter must be a rewriter name or a raqo_core QueryRewriter, got {type(rewriter).__name__}")
        elif settings:
            raise ValueError(
                f"settings {sorted(settings)} apply to a rewriter built by name; the {type(rewriter).__name__} given has its own"
            )
        try:
            self.config = config_with(**settings)
            self.config.validate()
        except RAQOError as exc:
            raise ValueError(str(exc)) from None
        if isinstance(rewriter, str) and rewriter != "raqo" and self.config.adapter not in (None, "auto"):
            raise ValueError(f"adapter {self.config.adapter!r} given, but rewriter {rewriter!r} takes no adapter")
        if attributions is not None and (not isinstance(attributions, str) or not attributions.strip()):
            raise ValueError(f"attributions must be a retriever spec such as 'embedded', or None; got {attributions!r}")
        self.attributions = attributions
        self._attributor: Any = None
        self.rewriter = rewriter
        self.settings = settings
        self.include_original_query = include_original_query
        self.device = resolve_device(device)
        self.api_key = api_key if api_key is not None else Secret.from_env_var("OPENAI_API_KEY", strict=False)
        self._impl: Any = None if isinstance(rewriter, str) else rewriter
        self._warm_lock = threading.Lock()
        self._loaded = False

    @property
    def name(self) -> str:
        """The rewriter's name (``raqo``, a baseline, or the class of the object given)."""
        return self.rewriter if isinstance(self.rewriter, str) else type(self.rewriter).__name__

    # -- lifecycle -----------------------------------------------------------------------
    def _build(self) -> Any:
        from raqo_core.rewriter.factory import build_rewriter, config_with

        cfg = config_with(self.config, device=self.device.to_torch_str())
        return build_rewriter(str(self.rewriter), cfg, api_key=self.api_key.resolve_value() if self.api_key else None)

    def warm_up(self) -> None:
        """Load the rewriter model, adapter and guard (once). Raises on misconfiguration."""
        with self._warm_lock:  # concurrent first calls load the model once
            if not self._loaded:
                impl = self._impl if self._impl is not None else self._build()
                impl.load()
                if self.attributions is not None and self._attributor is None:
                    from raqo_core.explain.attribution import TokenAttributor

                    self._attributor = TokenAttributor(self.attributions)
                    try:  # an explanation must never cost the rewrite: a retriever that fails to load is reported in meta
                        self._attributor.load()
                    except Exception as exc:  # noqa: BLE001
                        logger.warning("attributions disabled: {error}", error=str(exc))
                self._impl, self._loaded = impl, True

    async def warm_up_async(self) -> None:
        """Load off the event loop (model loading is blocking I/O + compute)."""
        if not self._loaded:
            await asyncio.get_running_loop().run_in_executor(None, self.warm_up)

    def close(self) -> None:
        """Release the model (a rewriter object given is kept: it belongs to the caller)."""
        if isinstance(self.rewriter, str):
            self._impl = None
        self._loaded = False

    async def close_async(self) -> None:
        self.close()

    # -- serialisation -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        if not isinstance(self.rewriter, str):
            raise SerializationError(
                f"RAQOQueryRewriter holds a {type(self.rewriter).__name__} object, which cannot be serialised; "
                "build it by name (rewriter='raqo', with RewriterConfig settings) to save the pipeline"
            )
        return default_to_dict(
            self,
            rewriter=self.rewriter,
            include_original_query=self.include_original_query,
            device=self.device.to_dict(),
            api_key=self.api_key.to_dict() if self.api_key else None,
            attributions=self.attributions,
            **self.settings,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RAQOQueryRewriter:
        data = {**data, "init_parameters": dict(data.get("init_parameters", {}))}  # the caller's dict stays as it was
        params = data["init_parameters"]
        deserialize_secrets_inplace(params, keys=["api_key"])
        device_from_init(params)
        return default_from_dict(cls, data)

    # -- running -------------------------------------------------------------------------
    def _output(self, query: str, res: Any) -> dict[str, Any]:
        rewrites = (res.rewrites or [res.rewritten_query]) if res.applied else [query]
        queries = list(rewrites)
        if self.include_original_query and query.lower() not in [q.lower() for q in queries]:
            queries.append(query)
        meta = {
            "original_query": query,
            "applied": res.applied,
            "reason": res.reason,
            "latency_ms": res.latency_ms,
            "cached": res.cached,
            "rewriter": self.name,
        }
        if getattr(res, "hints", None):  # the look-up's decision for each weak word (settings lookup=…)
            meta["hints"] = list(res.hints)
        if self._attributor is not None:
            meta["attributions"] = self._attributor.for_result(res)
        return {"query": res.rewritten_query, "queries": queries, "concepts": list(res.concepts), "meta": meta}

    def _fallback(self, q: str, reason: str) -> dict[str, Any]:
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
                "rewriter": self.name,
            },
        }

    @component.output_types(query=str, queries=list[str], concepts=list[str], meta=dict[str, Any])
    def run(self, query: str) -> dict[str, Any]:
        """Rewrite ``query``; never raises on its content: any failure returns the original query with the reason.
        A non-string is a wiring error and raises ``TypeError`` (as Haystack's embedders do)."""
        _check_query(query)
        if not query.strip():
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
        _check_query(query)
        try:
            await self.warm_up_async()
        except Exception as exc:
            logger.exception("RAQO rewriter failed to load; using the original query. Error: {error}", error=str(exc))
            return self._fallback(query, f"error: {type(exc).__name__}: {exc}"[:200])
        return await asyncio.get_running_loop().run_in_executor(None, self.run, query)
