"""The ReCoT rewriter: detect challenging concepts, then rewrite just those.

    rw = Rewriter(RewriterConfig(model="embedded", adapter="path/to/adapter")).load()
    rw.rewrite("a crimson orb beside a cube")
    # RewriteResult(original_query=..., rewritten_query=..., concepts=[...], applied=True, reason="rewritten", ...)

Never raises to the caller on query-time problems: empty or huge queries, injections,
malformed model output, timeouts, guard rejections and exceptions all return the original
query with a reason. Misconfiguration (unknown model, missing adapter) raises at load time.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from raqo_core.errors import RAQOError
from raqo_core.rewriter import prompt as P
from raqo_core.rewriter.base import QueryRewriter, check_queries
from raqo_core.rewriter.engines.base import STOP, TIMEOUT
from raqo_core.rewriter.guard import IntentGuard
from raqo_core.rewriter.result import RewriteResult

logger = logging.getLogger(__name__)


@dataclass
class RewriterConfig:
    """Everything that decides what a rewriter outputs (and so its cache key)."""

    model: str = field(default="embedded", metadata={"help": "'embedded' (SmolLM2-135M-Instruct), an HF id or a local folder"})
    adapter: str | None = field(
        default="auto",
        metadata={
            "help": "peft LoRA adapter folder or hub id; 'auto' (default) = the adapter shipped for the embedded base and this mode "
            "(none for other bases); None = the base model alone"
        },
    )
    mode: str = field(default="recot", metadata={"help": "recot | direct | detect"})
    guard_threshold: float | None = field(default=0.5, metadata={"help": "min MiniLM similarity original↔rewrite; None disables"})
    max_new_tokens: int = field(default=64, metadata={"help": "generation cap per answer"})
    max_query_chars: int = field(default=512, metadata={"help": "longer queries are cut before prompting"})
    timeout_s: float | None = field(default=10.0, metadata={"help": "per-call generation time limit; on expiry → original query"})
    cache_size: int = field(default=4096, metadata={"help": "LRU entries (0 disables)"})
    merge_adapter: bool = field(default=True, metadata={"help": "merge LoRA into the base weights for speed"})
    device: str = field(default="cpu", metadata={"help": "torch device"})
    dtype: str = field(default="float32", metadata={"help": "float32 | bfloat16 | float16"})
    quantize_int8: bool = field(default=False, metadata={"help": "int8 dynamic quantisation of Linear layers (CPU)"})
    trust_remote_code: bool = field(default=False, metadata={"help": "allow custom model code (opt-in)"})
    n_rewrites: int = field(default=1, metadata={"help": ">1 samples several rewrites (multi-query retrievers)"})
    temperature: float = field(default=0.7, metadata={"help": "sampling temperature when n_rewrites > 1"})
    batch_size: int = field(default=8, metadata={"help": "queries per generate() call"})
    retriever_fingerprint: str | None = field(default=None, metadata={"help": "warn if the adapter was trained for another retriever"})
    grounded_concepts: bool = field(
        default=True, metadata={"help": "recot/detect: the Concepts: line may only quote the query (constrained decoding)"}
    )
    system_prompt: str | None = field(
        default=None, metadata={"help": "override the ReCoT system prompt (adapters are trained with the default)"}
    )
    backend: str = field(
        default="hf",
        metadata={
            "help": "generator engine: hf (transformers, default; hf:int8 quantised) | llamacpp[:f16|:q8_0|:FILE.gguf] (llama.cpp in-process) | "
            "openai:BASE_URL (vLLM, llama.cpp server, Ollama, TGI)"
        },
    )
    engine_model: str | None = field(default=None, metadata={"help": "openai: the served model name (default: the server's first)"})
    engine_template: str | None = field(
        default=None, metadata={"help": "openai: chat template (an exported folder or a .jinja file; default ChatML, the embedded base's)"}
    )
    engine_grammar: str = field(
        default="auto",
        metadata={"help": "openai: how grounded concepts reach the server: auto | gbnf (llama.cpp) | vllm | none (validate only)"},
    )
    engine_threads: int | None = field(default=None, metadata={"help": "llamacpp: CPU threads (default: all cores, at most 8)"})
    engine_retries: int = field(default=2, metadata={"help": "openai: retries after 429/5xx/timeouts, within timeout_s"})
    engine_concurrency: int = field(default=4, metadata={"help": "openai: requests in flight at once"})
    api_key_env: str = field(default="OPENAI_API_KEY", metadata={"help": "openai: environment variable holding the API key"})
    lookup: str | None = field(
        default="auto",
        metadata={
            "help": "replace words the retriever does not know by words it does: 'auto' (default) = the look-up the adapter "
            "names in its raqo_adapter.json (the shipped adapters: the shipped embedded look-up; none for other adapters "
            "and baselines), 'embedded', a folder from `raqo lookup build`, or None/'none' = off"
        },
    )
    lookup_scope: str = field(default="all", metadata={"help": "look-up: all (every weak word) | concepts (only inside detected concepts)"})
    lookup_order: str = field(
        default="before",
        metadata={"help": "look-up: before the rewrite (default; the rewriter sees the looked-up query) | after it (on the rewrite)"},
    )
    seed: int = 0

    def validate(self) -> None:
        from raqo_core.rewriter.engines import parse_backend

        P.check_mode(self.mode)
        parse_backend(self.backend)
        if self.guard_threshold is not None and not -1.0 <= self.guard_threshold <= 1.0:
            raise RAQOError(f"guard_threshold must be in [-1, 1] or None, got {self.guard_threshold}")
        for name in ("max_new_tokens", "max_query_chars", "n_rewrites", "batch_size", "engine_concurrency"):
            if getattr(self, name) < 1:
                raise RAQOError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.cache_size < 0:
            raise RAQOError(f"cache_size must be >= 0, got {self.cache_size}")
        if self.timeout_s is not None and self.timeout_s <= 0:
            raise RAQOError(f"timeout_s must be > 0 or None, got {self.timeout_s}")
        if self.engine_retries < 0:
            raise RAQOError(f"engine_retries must be >= 0, got {self.engine_retries}")
        if self.engine_threads is not None and self.engine_threads < 1:
            raise RAQOError(f"engine_threads must be >= 1 or None, got {self.engine_threads}")
        if self.lookup_scope not in ("all", "concepts"):
            raise RAQOError(f"lookup_scope must be 'all' or 'concepts', got {self.lookup_scope!r}")
        if self.lookup_order not in ("after", "before"):
            raise RAQOError(f"lookup_order must be 'after' or 'before', got {self.lookup_order!r}")
        if self.lookup is not None and (not isinstance(self.lookup, str) or not self.lookup.strip()):
            raise RAQOError(f"lookup must be 'auto', 'embedded', a look-up folder, 'none' or None, got {self.lookup!r}")
        if self.quantize_int8 and self.backend not in ("hf", "hf:int8"):
            raise RAQOError(f"quantize_int8 applies to backend 'hf' only, not {self.backend!r} (llamacpp: use a q8_0 GGUF)")


def config_help(name: str) -> str:
    """The help text of a :class:`RewriterConfig` field (the CLI and the components reuse it)."""
    return str(RewriterConfig.__dataclass_fields__[name].metadata.get("help", ""))


def build(config: RewriterConfig, api_key: str | None = None) -> Rewriter:
    """The ``raqo`` entry of :mod:`raqo_core.rewriter.factory`."""
    return Rewriter(config, api_key=api_key)


def _norm_key(q: str) -> str:
    return " ".join(q.lower().split())


class Rewriter(QueryRewriter):
    """Detect-then-rewrite (ReCoT) over any causal LM, with fallback to the original query."""

    def __init__(
        self,
        config: RewriterConfig | None = None,
        *,
        guard: IntentGuard | None = None,
        generator: Any = None,
        api_key: str | None = None,
        **overrides: Any,
    ) -> None:
        """``generator``: an already-built engine (see :mod:`raqo_core.rewriter.engines`) instead of
        ``config.backend``; ``api_key``: for ``openai`` (else the ``config.api_key_env`` variable)."""
        cfg = RewriterConfig(**{**asdict(config or RewriterConfig()), **overrides})  # a copy: the caller's config stays as it was
        cfg.validate()
        from raqo_core.rewriter.adapters import resolve_adapter

        cfg.adapter = resolve_adapter(cfg.adapter, cfg.model, cfg.mode)
        self.config = cfg
        self._guard = guard
        self._backend: Any = generator
        self._api_key = api_key
        self._load_lock = threading.Lock()
        self._name = cfg.model
        self._adapter_tag: str | None = None
        self._cache: OrderedDict[tuple[str, ...], RewriteResult] = OrderedDict()
        self._cache_lock = threading.Lock()
        self.adapter_meta: dict[str, Any] = {}
        self.stats = {"calls": 0, "cache_hits": 0, "fallbacks": 0}

    # -- loading -------------------------------------------------------------------------
    @property
    def loaded(self) -> bool:
        return self._backend is not None

    def load(self) -> Rewriter:
        """Load the engine (model, adapter) and the guard, once, even under concurrent first calls.
        Raises on misconfiguration."""
        with self._load_lock:
            if self._backend is None:
                from raqo_core.rewriter.engines import build_engine

                self._backend = build_engine(self.config, api_key=self._api_key)
                self._adopt(self._backend)
            elif not self._adopted:
                self._adopt(self._backend)
            if self._guard is None and self.config.guard_threshold is not None:
                self._guard = IntentGuard(self.config.guard_threshold)
        return self

    _adopted = False

    def _adopt(self, engine: Any) -> None:
        """Take the engine's model name and adapter metadata; check the adapter's mode and retriever."""
        c = self.config
        self._name = getattr(engine, "name", "") or c.model
        meta = dict(getattr(engine, "adapter_meta", {}) or {})
        if not meta and c.adapter:
            from raqo_core.rewriter.adapters import read_adapter_meta

            meta = read_adapter_meta(c.adapter) if Path(c.adapter).exists() else {}
        self.adapter_meta = meta
        if c.adapter or meta:
            from raqo_core.rewriter.adapters import check_adapter_mode, check_retriever

            check_adapter_mode(meta, c.mode, c.adapter)
            if not getattr(engine, "checks_retriever", False):  # hf checks it while loading the adapter
                check_retriever(meta, c.retriever_fingerprint, c.adapter)
        self._adopted = True

    warm_up = load

    @property
    def fingerprint(self) -> str:
        """Base model + adapter + mode: keys caches (in memory and on disk)."""
        c = self.config
        if self._adapter_tag is None:  # hash the adapter weights once, not on every cache lookup
            self._adapter_tag = ""
            if c.adapter:
                w = Path(c.adapter) / "adapter_model.safetensors"
                digest = hashlib.sha256(w.read_bytes()).hexdigest()[:12] if w.is_file() else c.adapter
                self._adapter_tag = f"+lora@{digest}"
        adapter = self._adapter_tag
        prompt = f"|p{hashlib.sha256(c.system_prompt.encode()).hexdigest()[:8]}" if c.system_prompt else ""
        grounded = "|grounded" if self._grounded else ""
        tag = getattr(self._backend, "tag", "") if self._backend is not None else ""
        engine = f"|{tag}" if tag else ""  # hf (the reference engine) adds nothing: its caches stay valid
        return f"{self._name}{adapter}|{c.mode}|n{c.n_rewrites}|g{c.guard_threshold}{prompt}{grounded}{engine}"

    @property
    def _int8(self) -> bool:
        return self.config.quantize_int8 or self.config.backend == "hf:int8"

    @property
    def _grounded(self) -> bool:
        """Whether the concept line is decoded grounded (direct mode writes none)."""
        return self.config.grounded_concepts and self.config.mode != "direct"

    # -- public API ----------------------------------------------------------------------
    def rewrite_batch(self, queries: Sequence[str], batch_size: int | None = None) -> list[RewriteResult]:
        """Rewrite many queries; results are identical to single calls (greedy decoding)."""
        queries = check_queries(queries)  # a non-string is a programming error, not a query: said before any work
        results: list[RewriteResult | None] = [None] * len(queries)
        pending: list[tuple[int, str, str]] = []  # (index, original, sanitised)
        for i, q in enumerate(queries):
            self.stats["calls"] += 1
            clean = P.sanitize_query(q, self.config.max_query_chars)
            if not clean:
                results[i] = RewriteResult.fallback(q, "empty query")
                continue
            hit = self._cache_get(clean)
            if hit is not None:
                self.stats["cache_hits"] += 1
                results[i] = RewriteResult(
                    q, hit.rewritten_query if hit.applied else q, hit.concepts, hit.applied, hit.reason, 0.0, hit.rewrites, True
                )
                continue
            pending.append((i, q, clean))
        # int8 dynamic quantisation scales activations per batch: only batch 1 gives batch-independent answers.
        bs = 1 if self._int8 else (batch_size or self.config.batch_size)
        for a in range(0, len(pending), bs):
            chunk = pending[a : a + bs]
            for (i, _, clean), res in zip(chunk, self._run_chunk(chunk), strict=True):
                results[i] = res
                if res.cacheable:
                    self._cache_put(clean, res)
        out = [r for r in results if r is not None]
        self.stats["fallbacks"] += sum(not r.applied for r in out)
        return out

    def clear_cache(self) -> None:
        with self._cache_lock:
            self._cache.clear()

    # -- internals -----------------------------------------------------------------------
    def _cache_get(self, clean: str) -> RewriteResult | None:
        if not self.config.cache_size:
            return None
        key = (_norm_key(clean), self.fingerprint)
        with self._cache_lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
            return hit

    def _cache_put(self, clean: str, res: RewriteResult) -> None:
        if not self.config.cache_size:
            return
        key = (_norm_key(clean), self.fingerprint)
        with self._cache_lock:
            self._cache[key] = res
            self._cache.move_to_end(key)
            while len(self._cache) > self.config.cache_size:
                self._cache.popitem(last=False)

    def _complete(self, prompts: list[str], queries: list[str]) -> Any:
        """Generate completions (the only model call; tests may substitute it)."""
        c = self.config
        backend = self.load()._backend
        return backend.generate(
            prompts,
            max_new_tokens=c.max_new_tokens,
            is_done=lambda t: P.is_complete(t, c.mode),
            max_time=c.timeout_s,
            num_samples=c.n_rewrites,
            temperature=c.temperature,
            seed=c.seed,
            ground_in=queries if self._grounded else None,
            mode=c.mode,
        )

    def _run_chunk(self, chunk: list[tuple[int, str, str]]) -> list[RewriteResult]:
        c = self.config
        t0 = time.perf_counter()
        try:
            self.load()
            prompts = [
                self._backend.chat_prompt(P.messages(clean, c.mode, c.system_prompt), P.response_prefix(c.mode)) for _, _, clean in chunk
            ]
            gen = self._complete(prompts, [clean for _, _, clean in chunk])
        except RAQOError:
            raise
        except Exception as exc:  # query-time failure → original query
            logger.exception("rewriter generation failed")
            ms = (time.perf_counter() - t0) * 1000
            return [RewriteResult.fallback(q, f"error: {type(exc).__name__}: {exc}"[:200], ms) for _, q, _ in chunk]
        ms = (time.perf_counter() - t0) * 1000
        parsed: list[tuple[str, str, list[str] | None, list[str], str | None]] = []  # (orig, clean, concepts, rewrites, reason)
        for n, ((_, q, clean), samples) in enumerate(zip(chunk, gen.texts, strict=True)):
            if n in gen.errors:
                parsed.append((q, clean, None, [], f"error: {gen.errors[n]}"[:200]))
                continue
            concepts: list[str] | None = None
            rewrites: list[str] = []
            error = None
            cut = None
            for s, text in enumerate(samples):
                why = gen.finish_of(n, s)
                if why != STOP:  # cut off by the time or token limit: never applied, never cached
                    cut = cut or why
                    continue
                try:
                    p = P.parse_response(
                        text,
                        c.mode,
                        max_rewrite_chars=max(64, 2 * len(clean)),
                        max_concept_chars=max(P.MAX_CONCEPT_CHARS, len(clean)) if self._grounded else P.MAX_CONCEPT_CHARS,
                    )
                except P.ParseError as exc:
                    error = error or f"unparseable output: {exc}"
                    continue
                if concepts is None:
                    concepts = p.concepts
                if p.rewrite and p.rewrite not in rewrites:
                    rewrites.append(p.rewrite)
            if concepts is None and not rewrites:
                if cut == TIMEOUT:
                    error = "timeout"
                elif cut is not None:
                    error = f"truncated: the answer hit max_new_tokens={c.max_new_tokens} before it ended"
                parsed.append((q, clean, None, [], error))
            else:
                parsed.append((q, clean, concepts, rewrites, None))
        # Guard every proposed rewrite in one batch.
        pairs = [(clean, r) for _, clean, _, rws, _ in parsed for r in rws]
        verdicts: dict[tuple[str, str], tuple[bool, float]] = {}
        if pairs and self._guard is not None:
            try:
                for pair, v in zip(pairs, self._guard.check([p[0] for p in pairs], [p[1] for p in pairs]), strict=True):
                    verdicts[pair] = v
            except Exception as exc:
                logger.exception("intent guard failed")
                return [RewriteResult.fallback(q, f"error: guard failed: {exc}"[:200], ms) for _, q, _ in chunk]
        out: list[RewriteResult] = []
        for q, clean, concepts, rewrites, reason in parsed:
            if reason is not None:
                out.append(RewriteResult.fallback(q, reason, ms))
                continue
            cons = list(concepts or [])
            if c.mode == "detect":
                out.append(RewriteResult(q, q, cons, False, "detect only" if cons else "no challenging concepts", ms))
                continue
            if c.mode == "recot" and not cons:
                out.append(RewriteResult(q, q, [], False, "no challenging concepts", ms))
                continue
            kept: list[str] = []
            why = "rewrite identical to the query"
            for r in rewrites:
                if _norm_key(r) == _norm_key(clean):
                    continue
                ok, sim = verdicts.get((clean, r), (True, 1.0))
                if ok:
                    kept.append(r)
                else:
                    why = f"guard: similarity {sim:.2f} < {self._guard.threshold:.2f}" if self._guard else why
            if kept:
                out.append(RewriteResult(q, kept[0], cons, True, "rewritten", ms, kept if c.n_rewrites > 1 else []))
            else:
                out.append(RewriteResult.fallback(q, why, ms, cons))
        return out
