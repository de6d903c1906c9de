"""One way to build a rewriter, used by the CLI, the evaluation, the demo and both framework integrations.

    build_rewriter("raqo")                                   # ReCoT + the shipped adapter (adapter="auto")
    build_rewriter("raqo", RewriterConfig(mode="direct"), backend="llamacpp")
    build_rewriter("wordnet")                                # a baseline
    build_rewriter("raqo", offline_config(), disk_cache=True)  # evaluation: no timeouts, cached on disk

Every rewriter takes its settings from one :class:`~raqo_core.rewriter.rewriter.RewriterConfig`
(baselines read the fields they use: ``model``, ``device``, ``timeout_s``, ``max_query_chars``),
so callers never branch on the rewriter's name. A new rewriter is one module with
``build(config, api_key) -> QueryRewriter`` plus one :func:`register_rewriter` line.

A *rewriter spec* (``raqo compare --row NAME=SPEC``) names one in a string:
``none`` (no rewriting), a baseline name, or ``ADAPTER[@recot|@ungrounded|@direct][+lookup|+lookup:before][#BACKEND]``
(``+lookup``: then the look-up, :mod:`raqo_core.rewriter.lookup` — the one the base config names, else the
adapter's own, else the embedded one; ``+lookup:before``: the look-up first). Without a suffix the rewriter runs alone.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Any

from raqo_core.errors import RAQOError
from raqo_core.registry import Registry
from raqo_core.rewriter.base import QueryRewriter
from raqo_core.rewriter.rewriter import RewriterConfig

Builder = Callable[[RewriterConfig, "str | None"], QueryRewriter]
REWRITER_REGISTRY: Registry[Builder] = Registry("rewriter", check=lambda n: ":" not in n and "@" not in n and "#" not in n)


def register_rewriter(name: str, builder: str | Builder) -> None:
    """Register ``name`` → ``builder(config, api_key)``; ``builder`` may be ``"module:function"`` (imported on first use)."""
    REWRITER_REGISTRY.register(name, builder)


register_rewriter("raqo", "raqo_core.rewriter.rewriter:build")
register_rewriter("llm-rewrite", "raqo_core.rewriter.baselines:build_llm_rewrite")
register_rewriter("visual-description", "raqo_core.rewriter.baselines:build_visual_description")
register_rewriter("wordnet", "raqo_core.rewriter.baselines:build_wordnet")
register_rewriter("lookup", "raqo_core.rewriter.lookup:build_lookup")

REWRITERS = REWRITER_REGISTRY.names()  # the built-in names (rewriter_names() lists registered ones too)
BASELINES = tuple(n for n in REWRITERS if n != "raqo")
SPEC_MODES = ("recot", "ungrounded", "direct")
LOOKUP_SUFFIXES = {"before": "+lookup:before", "after": "+lookup"}  # longest first: "+lookup:before" ends differently


def rewriter_names() -> tuple[str, ...]:
    return REWRITER_REGISTRY.names()


def config_with(config: RewriterConfig | None = None, **overrides: Any) -> RewriterConfig:
    """``config`` (default: the defaults) with ``overrides``; an unknown field name is an error naming it."""
    known = {f.name for f in fields(RewriterConfig)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise RAQOError(f"unknown rewriter setting(s) {unknown}; expected RewriterConfig fields: {sorted(known)}")
    return replace(config, **overrides) if config is not None else RewriterConfig(**overrides)


def offline_config(config: RewriterConfig | None = None, **overrides: Any) -> RewriterConfig:
    """The config for offline evaluation: no per-call time limit (a slow machine must not change the numbers)."""
    return config_with(config, **{"timeout_s": None, **overrides})


def build_rewriter(
    name: str = "raqo",
    config: RewriterConfig | None = None,
    *,
    api_key: str | None = None,
    disk_cache: bool | str | os.PathLike[str] = False,
    **overrides: Any,
) -> QueryRewriter:
    """Build the rewriter ``name`` from ``config`` (plus ``overrides``, any :class:`RewriterConfig` fields).

    ``api_key``: for the ``openai`` engine (a secret, so never part of the config);
    ``disk_cache``: wrap it in a :class:`~raqo_core.rewriter.disk_cache.DiskCachedRewriter`
    (``True``: the default cache folder, or a folder). Unloaded: call ``.load()`` or let the first call load it.
    """
    cfg = config_with(config, **overrides)
    rewriter = REWRITER_REGISTRY.get(name)(cfg, api_key)
    if disk_cache is not False:
        from raqo_core.rewriter.disk_cache import DiskCachedRewriter

        rewriter = DiskCachedRewriter(rewriter, None if disk_cache is True else disk_cache)
    if name != "lookup":  # outside the caches: the look-up never re-generates (the baseline is one already)
        from raqo_core.rewriter.lookup import with_lookup

        rewriter = with_lookup(rewriter, cfg, name)
    return rewriter


@dataclass(frozen=True)
class RewriterSpec:
    """A rewriter named in one string: ``none``, a baseline, or ``ADAPTER[@MODE][#BACKEND]``."""

    name: str | None  # None: no rewriting
    adapter: str | None = None
    mode: str = "recot"  # the spec's mode: recot | ungrounded | direct
    backend: str | None = None  # None: the caller's default engine
    lookup: str | None = None  # the embedded look-up: "after" the rewrite (``+lookup``) or "before" it (``+lookup:before``)

    @classmethod
    def parse(cls, spec: str) -> RewriterSpec:
        """Adapter folders may contain ``:`` and ``+`` (``direct:qre+pro``), hence ``@`` and ``#``."""
        if not isinstance(spec, str) or not spec.strip():
            raise RAQOError(f"rewriter spec must be a non-empty string, got {spec!r}")
        rest, hash_, backend = spec.partition("#")
        if hash_:
            from raqo_core.rewriter.engines import parse_backend

            parse_backend(backend)
        lookup: str | None = next((o for o, suffix in LOOKUP_SUFFIXES.items() if rest.rstrip().endswith(suffix)), None)
        if lookup:
            rest = rest.rstrip()[: -len(LOOKUP_SUFFIXES[lookup])]
        target, _, mode = rest.rpartition("@") if "@" in rest else (rest, "", "recot")
        if mode not in SPEC_MODES:
            raise RAQOError(f"rewriter spec {spec!r}: mode {mode!r} is not one of {SPEC_MODES}")
        target = target.strip()
        if target.lower() == "none" or target in BASELINES:
            if hash_ or mode != "recot" or lookup:
                raise RAQOError(
                    f"rewriter spec {spec!r}: only a RAQO adapter takes @MODE, #BACKEND or +lookup (the look-up alone is the 'lookup' baseline)"
                )
            return cls(None if target.lower() == "none" else target)
        if not target:
            raise RAQOError(f"rewriter spec {spec!r} names no adapter before '@' (use 'auto' for the shipped one)")
        return cls("raqo", target, mode, backend.strip() if hash_ else None, lookup)

    @property
    def label(self) -> str | None:
        """What ``raqo compare`` calls this row's adapter: the adapter, the baseline name, or None."""
        return self.adapter if self.name == "raqo" else self.name

    def config(self, base: RewriterConfig | None = None) -> RewriterConfig:
        """``base`` with this spec's adapter, mode, grounding, engine and look-up. A spec says exactly what runs:
        without ``+lookup`` the rewriter runs alone, whatever ``base.lookup`` says; with it, the look-up ``base``
        names explicitly (``raqo compare --lookup DIR``), else the adapter's own (``lookup="auto"``), else the
        embedded one."""
        if self.name != "raqo":
            return config_with(base, lookup=None)
        over: dict[str, Any] = {"adapter": self.adapter, "mode": "recot" if self.mode == "ungrounded" else self.mode}
        over["grounded_concepts"] = self.mode != "ungrounded"
        if self.backend:
            over["backend"] = self.backend
        cfg = config_with(base, **over)
        if not self.lookup:
            return config_with(cfg, lookup=None)
        return config_with(cfg, lookup=self._lookup_of(cfg), lookup_order=self.lookup)

    @staticmethod
    def _lookup_of(cfg: RewriterConfig) -> str:
        from raqo_core.rewriter.lookup import AUTO, adapter_lookup, effective_lookup

        named = cfg.lookup.strip() if isinstance(cfg.lookup, str) else None
        if named == AUTO:
            return adapter_lookup(cfg) or "embedded"
        return effective_lookup(cfg) or "embedded"

    def build(self, base: RewriterConfig | None = None, **kwargs: Any) -> QueryRewriter | None:
        """The rewriter (None for ``none``); ``kwargs`` go to :func:`build_rewriter` (``disk_cache``, ``api_key``)."""
        return None if self.name is None else build_rewriter(self.name, self.config(base), **kwargs)

    def describe(self, base: RewriterConfig | None = None) -> dict[str, Any]:
        out = {"adapter": self.label, "mode": self.mode, "backend": self.config(base).backend if self.name == "raqo" else None}
        if self.lookup:
            out["lookup"] = f"{self.config(base).lookup} ({self.lookup})"
        return out
