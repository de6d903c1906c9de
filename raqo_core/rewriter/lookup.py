"""The look-up around any rewriter (:mod:`raqo_core.lookup`): look up → detect → rewrite (``order="before"``, the
default: chosen on val, docs/lookup.md), or detect → rewrite → look up (``order="after"``).

    rw = build_rewriter("raqo", lookup="embedded")               # the shipped embedded look-up, then ReCoT
    rw = build_rewriter("lookup")                                # the look-up alone on the user's query (a baseline)
    raqo compare --row x=auto@recot+lookup:before --row y=auto@recot+lookup ...   # before / after, in rewriter specs

:class:`LookupRewriter` wraps the rewriter *outside* its caches. After a rewrite it looks up only in answers that
can be trusted; before, it hands the looked-up query to the rewriter. Either way an error, a timeout or a cut-off
answer gives the user's query untouched (a partial generation is never applied, and nothing is added to it). Each result carries its
:class:`~raqo_core.lookup.lookup.Hint` s in ``RewriteResult.hints``, also when nothing changed.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from raqo_core.errors import RAQOError
from raqo_core.rewriter.base import QueryRewriter, check_queries
from raqo_core.rewriter.result import NOT_CACHED, RewriteResult

# the model's answers that mean "nothing to change": behind a look-up, its reason is plain "lookup"
QUIET = frozenset(["no challenging concepts", "rewrite identical to the query", "detect only"])

logger = logging.getLogger(__name__)
LOOKUP_SCOPES = ("all", "concepts")
LOOKUP_ORDERS = ("after", "before")
EMBEDDED = "embedded"
AUTO = "auto"
OFF = (None, "", "none")
_UNTRUSTED = (*NOT_CACHED, "empty query")


def resolve_lookup(spec: Any, config: Any = None) -> Any:
    """A :class:`~raqo_core.lookup.lookup.ConceptLookup` from ``"embedded"`` (the shipped one), a folder made by
    ``raqo lookup build``, or a ConceptLookup itself."""
    from raqo_core.lookup import ConceptLookup, embedded_lookup_dir

    if isinstance(spec, ConceptLookup):
        return spec
    if not isinstance(spec, str) or not spec.strip():
        raise RAQOError(f"lookup must be 'embedded', a look-up folder or a ConceptLookup, got {spec!r}")
    folder = embedded_lookup_dir() if spec.strip() == EMBEDDED else Path(spec).expanduser()
    return ConceptLookup.from_folder(folder, config)


class LookupRewriter(QueryRewriter):
    """``inner`` with the look-up before it (``order="before"``) or on its rewrites (``"after"``; ``scope="concepts"``:
    only words inside the rewriter's detected concepts)."""

    def __init__(self, inner: QueryRewriter | None, lookup: Any, *, scope: str = "all", order: str = "before") -> None:
        if scope not in LOOKUP_SCOPES:
            raise RAQOError(f"lookup scope must be one of {LOOKUP_SCOPES}, got {scope!r}")
        if order not in LOOKUP_ORDERS:
            raise RAQOError(f"lookup order must be one of {LOOKUP_ORDERS}, got {order!r}")
        self.inner = inner
        self.lookup = resolve_lookup(lookup)
        self.scope = scope
        self.order = order

    def __getattr__(self, name: str) -> Any:
        """What the wrapped rewriter offers (``config``, ``adapter_meta``, ``clear_cache`` …), as callers of
        ``build_rewriter`` used it before the look-up wrapped it."""
        inner = self.__dict__.get("inner")
        if inner is None or name.startswith("__"):
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return getattr(inner, name)

    @property
    def fingerprint(self) -> str:
        inner = self.inner.fingerprint if self.inner is not None else "none"
        return f"{inner}|{self.lookup.fingerprint}|{self.scope}|{self.order}"

    def load(self) -> LookupRewriter:
        if self.inner is not None:
            self.inner.load()
        return self

    warm_up = load

    def _look_up(self, r: RewriteResult) -> RewriteResult:
        if r.reason.startswith(_UNTRUSTED):
            return r
        t0 = time.perf_counter()
        base = r.rewritten_query
        try:
            text, hints = self.lookup.apply(base, r.concepts if self.scope == "concepts" else None)
        except Exception as exc:  # never raise at query time: the model's answer stands
            logger.exception("look-up failed")
            return dataclasses.replace(r, hints=[{"word": "", "replacement": None, "source": "", "reason": f"look-up failed: {exc}"[:200]}])
        ms = r.latency_ms + (time.perf_counter() - t0) * 1000
        found = [h.to_dict() for h in hints]
        if text == base:
            return dataclasses.replace(r, hints=found, latency_ms=ms)
        reason = "rewritten+lookup" if r.applied else "lookup"
        rewrites = [self._apply_quietly(x, r.concepts) for x in r.rewrites]  # n_rewrites > 1: every sample, looked up the same way
        return dataclasses.replace(r, rewritten_query=text, applied=True, reason=reason, hints=found, latency_ms=ms, rewrites=rewrites)

    def _apply_quietly(self, text: str, concepts: list[str]) -> str:
        try:
            return str(self.lookup.apply(text, concepts if self.scope == "concepts" else None)[0])
        except Exception:  # the sample stands as the model wrote it
            return text

    def _alone(self, queries: list[str]) -> list[RewriteResult]:
        """The look-up on the sanitised queries (huge ones cut); the user's query where nothing changed."""
        from raqo_core.rewriter import prompt as P

        base = [(q, P.sanitize_query(q)) for q in queries]
        out = [
            self._look_up(RewriteResult(q, clean, [], False, "no weak words", 0.0)) if clean else RewriteResult.fallback(q, "empty query")
            for q, clean in base
        ]
        return [
            r
            if r.applied
            else dataclasses.replace(r, rewritten_query=r.original_query, reason="no replacement fits" if r.hints else r.reason)
            for r in out
        ]

    def _before(self, queries: list[str], batch_size: int | None) -> list[RewriteResult]:
        """Look up first, then rewrite what the look-up left (the rewriter sees the looked-up query)."""
        assert self.inner is not None
        looked = self._alone(queries)
        inner = self.inner.rewrite_batch([r.rewritten_query for r in looked], batch_size)
        out = []
        for q, lk, rr in zip(queries, looked, inner, strict=True):
            ms = lk.latency_ms + rr.latency_ms
            if rr.reason.startswith(NOT_CACHED):  # a failed rewrite: the user's query, as without a look-up
                out.append(dataclasses.replace(rr, original_query=q, rewritten_query=q, applied=False, hints=lk.hints, latency_ms=ms))
            elif rr.applied:
                reason = "lookup+rewritten" if lk.applied else rr.reason
                out.append(dataclasses.replace(rr, original_query=q, reason=reason, hints=lk.hints, latency_ms=ms))
            elif lk.applied:  # the look-up's query; a model answer that was not "nothing to change" stays in the reason
                out.append(
                    dataclasses.replace(
                        rr,
                        original_query=q,
                        rewritten_query=lk.rewritten_query,
                        applied=True,
                        reason="lookup" if rr.reason in QUIET else f"lookup (model: {rr.reason})",
                        hints=lk.hints,
                        latency_ms=ms,
                    )
                )
            else:
                out.append(dataclasses.replace(rr, original_query=q, rewritten_query=q, hints=lk.hints, latency_ms=ms))
        return out

    def rewrite_batch(self, queries: Sequence[str], batch_size: int | None = None) -> list[RewriteResult]:
        queries = check_queries(queries)
        if self.inner is None:
            return self._alone(queries)
        if self.order == "before":
            return self._before(queries, batch_size)
        return [self._look_up(r) for r in self.inner.rewrite_batch(queries, batch_size)]


def adapter_lookup(config: Any) -> str | None:
    """What ``lookup="auto"`` means for a ``raqo`` rewriter: the look-up the resolved adapter names under ``"lookup"``
    in its ``raqo_adapter.json`` — ``"embedded"`` or a folder relative to the adapter (``raqo train`` writes
    ``<adapter>/lookup``) — or None (no adapter, a hub id, or an adapter that names none)."""
    from raqo_core.rewriter.adapters import read_adapter_meta, resolve_adapter

    adapter = resolve_adapter(config.adapter, config.model, config.mode)
    if not adapter or not Path(adapter).is_dir():
        return None
    named = read_adapter_meta(adapter).get("lookup")
    if named is None:
        return None
    if not isinstance(named, str) or not named.strip():
        raise RAQOError(f"{adapter}/raqo_adapter.json: 'lookup' must be 'embedded' or a folder name, got {named!r}")
    if named.strip() == EMBEDDED:
        return EMBEDDED
    folder = Path(adapter) / named
    if not folder.is_dir():
        raise RAQOError(f"{adapter}/raqo_adapter.json names the look-up folder {named!r}, but {str(folder)!r} does not exist")
    return str(folder)


def effective_lookup(config: Any, name: str = "raqo") -> str | None:
    """The look-up the rewriter ``name`` built from ``config`` runs with: ``config.lookup`` with ``"auto"`` resolved
    (:func:`adapter_lookup` for ``raqo``; none for a baseline) and ``"none"`` read as off."""
    spec = getattr(config, "lookup", None)
    if isinstance(spec, str):
        spec = spec.strip()
    if spec in OFF:
        return None
    if spec == AUTO:
        return adapter_lookup(config) if name == "raqo" else None
    return str(spec)


def with_lookup(rewriter: QueryRewriter, config: Any, name: str = "raqo") -> QueryRewriter:
    """``rewriter`` wrapped in the look-up ``config.lookup`` names (unchanged when it names none; see
    :func:`effective_lookup`)."""
    lookup = effective_lookup(config, name)
    if lookup is None:
        return rewriter
    return LookupRewriter(rewriter, lookup, scope=config.lookup_scope, order=config.lookup_order)


def build_lookup(config: Any, api_key: str | None = None) -> LookupRewriter:
    """The ``lookup`` baseline: the look-up alone on the user's query (``config.lookup`` when it names one, else the
    embedded one)."""
    from raqo_core.rewriter.baselines import _no_adapter

    _no_adapter("lookup", config)
    spec = getattr(config, "lookup", None)
    named = None if (spec.strip() if isinstance(spec, str) else spec) in (*OFF, AUTO) else spec
    return LookupRewriter(None, named or EMBEDDED, scope="all")
