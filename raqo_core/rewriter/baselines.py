"""Retriever-agnostic baselines on the rewriter interface (the paper's Table 1 rows).

- :class:`LLMRewrite` — the untuned base LM asked to rewrite the query for image search
  (the paper's LLMsRewrite).
- :class:`WordNetExpansion` — DetCLIP-like: enrich content words with WordNet knowledge.
- :class:`VisualDescriptionAppend` — CLIP-GPT-like: append an LM-written visual description.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import Any

from raqo_core.rewriter import prompt as P
from raqo_core.rewriter.base import QueryRewriter, check_queries
from raqo_core.rewriter.result import RewriteResult

_STOP = set(
    [
        "a",
        "an",
        "the",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "with",
        "and",
        "or",
        "is",
        "are",
        "be",
        "this",
        "that",
        "these",
        "those",
        "there",
        "here",
        "it",
        "its",
        "i",
        "i'm",
        "me",
        "my",
        "you",
        "your",
        "we",
        "our",
        "can",
        "could",
        "please",
        "show",
        "find",
        "need",
        "one",
        "image",
        "picture",
        "photo",
        "looking",
        "think",
        "where",
        "some",
        "any",
        "from",
        "into",
        "over",
        "under",
        "above",
        "below",
        "left",
        "right",
        "beside",
        "next",
        "near",
        "than",
    ]
)


class _LMBaseline(QueryRewriter):
    """Shared machinery: one free-form line from an (untuned) causal LM per query."""

    system = ""
    name = "lm"

    def __init__(
        self,
        model: str = "embedded",
        *,
        device: str = "cpu",
        max_new_tokens: int = 40,
        batch_size: int = 8,
        timeout_s: float | None = 20.0,
        max_query_chars: int = 512,
    ) -> None:
        self.model = model
        self.device = device
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size
        self.timeout_s = timeout_s
        self.max_query_chars = max_query_chars
        self._backend: Any = None
        self._name = model

    def load(self) -> _LMBaseline:
        if self._backend is None:
            from raqo_core.rewriter.engines.hf import HFGenerator
            from raqo_core.rewriter.models import load_causal_lm

            lm = load_causal_lm(self.model, device=self.device)
            self._name = lm.name
            self._backend = HFGenerator(lm.model, lm.tokenizer, self.device)
        return self

    @property
    def fingerprint(self) -> str:
        return f"{self.name}:{self._name}"

    def _combine(self, query: str, line: str) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def rewrite_batch(self, queries: Sequence[str], batch_size: int | None = None) -> list[RewriteResult]:
        queries = check_queries(queries)
        self.load()
        out: list[RewriteResult] = []
        bs = batch_size or self.batch_size
        for a in range(0, len(queries), bs):
            chunk = list(queries[a : a + bs])
            cleaned = [P.sanitize_query(q, self.max_query_chars) for q in chunk]
            live = [i for i, c in enumerate(cleaned) if c]
            t0 = time.perf_counter()
            lines: dict[int, str] = {}
            error = None
            if live:
                prompts = [
                    self._backend.chat_prompt(
                        [{"role": "system", "content": self.system}, {"role": "user", "content": P.user_message(cleaned[i])}]
                    )
                    for i in live
                ]
                try:
                    gen = self._backend.generate(
                        prompts, max_new_tokens=self.max_new_tokens, is_done=lambda t: "\n" in t.strip(), max_time=self.timeout_s
                    )
                    lines = {i: g[0].strip().split("\n")[0].strip() for i, g in zip(live, gen.texts, strict=True)}
                except Exception as exc:  # never raise at query time
                    error = f"error: {type(exc).__name__}: {exc}"[:200]
            ms = (time.perf_counter() - t0) * 1000
            for i, qs in enumerate(chunk):
                if not cleaned[i]:
                    out.append(RewriteResult.fallback(qs, "empty query", ms))
                elif error:
                    out.append(RewriteResult.fallback(qs, error, ms))
                elif not lines.get(i):
                    out.append(RewriteResult.fallback(qs, "empty output", ms))
                else:
                    out.append(RewriteResult(qs, self._combine(cleaned[i], lines[i]), [], True, "rewritten", ms))
        return out


class LLMRewrite(_LMBaseline):
    """Retriever-agnostic LLM rewriting: the base model, no preference training."""

    name = "llm-rewrite"
    system = (
        "Rewrite the user's image search query so that an image search engine finds the right picture. "
        "Answer with the rewritten query only, on one line."
    )

    def _combine(self, query: str, line: str) -> str:
        return line[: max(64, 2 * len(query))]


class VisualDescriptionAppend(_LMBaseline):
    """CLIP-GPT-like: append a short LM-written visual description of the query's entities."""

    name = "visual-description"
    system = (
        "Describe in a few words what the objects in the user's image search query look like "
        "(colours, shapes, sizes). Answer with the description only, on one line."
    )

    def _combine(self, query: str, line: str) -> str:
        return f"{query}, {line[:160]}"


class WordNetExpansion(QueryRewriter):
    """DetCLIP-like concept enrichment: each content word WordNet knows gets its first hypernym
    (``crimson`` → ``red``) or, with ``style="definition"``, its gloss."""

    name = "wordnet"

    def __init__(self, *, style: str = "hypernym", max_words: int = 4) -> None:
        if style not in ("hypernym", "definition"):
            from raqo_core.errors import RAQOError

            raise RAQOError(f"unknown WordNetExpansion style {style!r}; expected 'hypernym' or 'definition'")
        self.style = style
        self.max_words = max_words

    def load(self) -> WordNetExpansion:
        from raqo_core.lexicon import wordnet

        wordnet()  # fail early with a clear message when WordNet is missing
        return self

    @property
    def fingerprint(self) -> str:
        return f"wordnet:{self.style}:{self.max_words}"

    def _enrich(self, word: str) -> str | None:
        from raqo_core import lexicon

        if self.style == "definition":
            d = lexicon.definition(word)
            return d.split(";")[0][:60] if d else None
        hyp = lexicon.hypernyms(word, pos=None, limit=1)
        return hyp[0] if hyp else None

    def rewrite_batch(self, queries: Sequence[str], batch_size: int | None = None) -> list[RewriteResult]:
        queries = check_queries(queries)
        self.load()
        out = []
        for q in queries:
            t0 = time.perf_counter()
            clean = P.sanitize_query(q)
            if not clean:
                out.append(RewriteResult.fallback(q, "empty query"))
                continue
            extras: list[str] = []
            words: list[str] = []
            for w in re.findall(r"[a-z][a-z\-]+", clean.lower()):
                if w in _STOP or w in words or len(w) < 3:
                    continue
                e = self._enrich(w)
                if e and e != w:
                    extras.append(f"{w} {e}" if self.style == "hypernym" else f"{w}: {e}")
                    words.append(w)
                if len(words) >= self.max_words:
                    break
            ms = (time.perf_counter() - t0) * 1000
            if not extras:
                out.append(RewriteResult.fallback(q, "no WordNet entries", ms))
            else:
                out.append(RewriteResult(q, f"{clean} ({'; '.join(extras)})", words, True, "rewritten", ms))
        return out


# -- factory entries (raqo_core.rewriter.factory): each baseline reads the RewriterConfig fields it uses ----------------
def _no_adapter(name: str, config: Any) -> None:
    if config.adapter not in (None, "", "auto"):
        from raqo_core.errors import RAQOError

        raise RAQOError(f"rewriter {name!r} takes no adapter (got {config.adapter!r}); adapters belong to 'raqo'")


def _lm_baseline(cls: type[_LMBaseline], config: Any) -> _LMBaseline:
    _no_adapter(cls.name, config)
    return cls(config.model, device=config.device, timeout_s=config.timeout_s, max_query_chars=config.max_query_chars)


def build_llm_rewrite(config: Any, api_key: str | None = None) -> _LMBaseline:
    return _lm_baseline(LLMRewrite, config)


def build_visual_description(config: Any, api_key: str | None = None) -> _LMBaseline:
    return _lm_baseline(VisualDescriptionAppend, config)


def build_wordnet(config: Any, api_key: str | None = None) -> WordNetExpansion:
    _no_adapter(WordNetExpansion.name, config)
    return WordNetExpansion()
