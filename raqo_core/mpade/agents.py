"""MPADE agents: given a query the retriever misreads, name the challenging concepts and
propose rewrites. One protocol, so users can add their own.

- :class:`OfflineAgent` needs no MLLM: it edits the query with WordNet and with the retriever's own
  training vocabulary and keeps what the retriever's feedback rewards. Works on any dataset.
- :class:`ChatMLLMAgent` asks any OpenAI-compatible chat endpoint with image input (vLLM, Ollama,
  hosted APIs) — the paper's setting.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import threading
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from raqo_core.errors import RAQOError
from raqo_core.lookup.vocabulary import RetrieverVocabulary, slot_counts
from raqo_core.text import STOPWORDS, caption_vocabulary, tokenize_words

logger = logging.getLogger(__name__)


@dataclass
class AgentRequest:
    """One ambiguous query in one optimisation round."""

    query: str
    gt_image: Path
    candidates: list[Path]  # the retriever's wrong top candidates
    history: list[tuple[str, int]] = field(default_factory=list)  # earlier proposals and their GT ranks
    round: int = 0
    gt_embedding: np.ndarray | None = None
    candidate_embeddings: np.ndarray | None = None


@dataclass
class Proposal:
    concepts: list[str]
    rewrites: list[str]
    error: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0


class Agent(Protocol):
    name: str

    def propose_batch(self, requests: Sequence[AgentRequest]) -> list[Proposal]: ...

    def describe(self) -> dict[str, Any]: ...


# --- offline agent -------------------------------------------------------------------------


class OfflineAgent:
    """Retriever-guided lexical editing, no MLLM needed.

    Only *weak* words are edited: words the retriever saw rarely or never in its training captions
    (count below ``weak_fraction`` × the 90th-percentile count of content words). Well-known words
    are never touched, so the edits stay meaning-preserving and consistent across queries — which
    is what a small rewriter can learn. Edits:

    - delete a word the retriever never saw, or a leading/trailing span of such words and stopwords
      (framing such as "i'm looking for a picture showing", ", i think");
    - replace a weak word by a *strong* vocabulary word: WordNet synonyms/hypernyms when there are
      any, else its nearest strong words in the retriever's text space (within ``neighbour_margin``
      of the nearest); with ``captions``, only words that fill the same slot there (cosine of their
      left/right-neighbour distributions ≥ ``slot_min``), so "orb" may become "circle", never "left".

    Each edit is scored with the retriever: ``cos(text, GT image) - max cos(text, wrong candidates)``;
    the best edit is applied greedily while it helps. Every state along the path is a proposal;
    the edited words are the concepts.
    """

    name = "offline"

    def __init__(
        self,
        retriever: Any,
        vocabulary: Counter[str],
        *,
        max_edits: int = 6,
        neighbours: int = 6,
        use_wordnet: bool = True,
        n_proposals: int = 6,
        min_gain: float = 1e-3,
        weak_fraction: float = 0.2,
        captions: Sequence[str] | None = None,
        slot_min: float = 0.3,
        neighbour_margin: float = 0.015,
    ) -> None:
        if not vocabulary:
            raise RAQOError("OfflineAgent needs a non-empty training-caption vocabulary")
        self.retriever = retriever
        self.vocab = vocabulary
        self.max_edits = max_edits
        self.neighbours = neighbours
        self.use_wordnet = use_wordnet
        self.n_proposals = n_proposals
        self.min_gain = min_gain
        self.weak_fraction = weak_fraction
        # What the retriever knows, by the rule the look-up uses too (raqo_core.lookup.vocabulary): the counts given,
        # every neighbour of those words in ``captions`` (none given: any word fits any slot).
        slots = slot_counts(captions, set(vocabulary)) if captions else {}
        self.known = RetrieverVocabulary(dict(vocabulary), slots, weak_fraction, "training captions")
        self.strong_count = self.known.strong_count
        self._words = self.known.strong_words()
        self._strong = set(self._words)
        self._word_emb = retriever.encode_texts(self._words, batch_size=256) if self._words else np.zeros((0, 1))
        self.slot_min = slot_min
        self.neighbour_margin = neighbour_margin
        self._has_slots = bool(captions)
        self._cand_cache: dict[str, list[str]] = {}

    @classmethod
    def from_manifest(cls, retriever: Any, manifest: Any, **kwargs: Any) -> OfflineAgent:
        """The agent for ``retriever`` trained on ``manifest``'s train-split captions (vocabulary
        counts and slots both come from them); ``agent.vocab`` is what ``run_mpade`` takes."""
        captions = [c for r in manifest.split("train") for c in r.captions]
        return cls(retriever, caption_vocabulary(captions), captions=captions, **kwargs)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "vocabulary": len(self.vocab),
            "max_edits": self.max_edits,
            "neighbours": self.neighbours,
            "wordnet": self.use_wordnet,
            "weak_fraction": self.weak_fraction,
            "strong_words": len(self._words),
        }

    def is_weak(self, word: str) -> bool:
        """A content word the retriever saw rarely or never in training (an edit target)."""
        return self.known.is_weak(word)

    def slot_similarity(self, a: str, b: str) -> float:
        """Cosine of the two words' left/right-neighbour distributions in the training captions
        (1.0 when no captions were given): words that fill the same slot are interchangeable."""
        return self.known.slot_similarity(a, b) if self._has_slots else 1.0

    def substitutes(self, word: str) -> list[str]:
        """Strong vocabulary words that fill ``word``'s slot in the training captions and may replace
        it: its WordNet relations, or, when there are none, the retriever's nearest text-space
        neighbours (within ``neighbour_margin`` of the nearest)."""
        if word in self._cand_cache:
            return self._cand_cache[word]
        out: list[str] = []
        if self.use_wordnet:
            from raqo_core import lexicon

            try:
                related = lexicon.synonyms(word, limit=30) + lexicon.hypernyms(word, pos=None, limit=5)
            except RAQOError:
                related = []
            out += [
                w for w in related if w != word and w not in out and w in self._strong and self.slot_similarity(word, w) >= self.slot_min
            ]
        if self.neighbours and len(self._words) and not out:  # a dictionary synonym beats a text-space guess
            e = self.retriever.encode_texts([word])[0]
            sims = self._word_emb @ e
            added = 0
            best = None
            for j in np.argsort(-sims, kind="stable"):
                w = self._words[int(j)]
                if w == word or self.slot_similarity(word, w) < self.slot_min:
                    continue
                best = float(sims[j]) if best is None else best
                if float(sims[j]) < best - self.neighbour_margin:
                    break
                if w not in out:
                    out.append(w)
                added += 1
                if added >= self.neighbours:
                    break
        self._cand_cache[word] = out
        return out

    def _edits(self, words: list[str]) -> list[tuple[list[str], str]]:
        """All single edits of ``words``: (new words, the concept it touches)."""
        out: list[tuple[list[str], str]] = []
        n = len(words)
        weak = [self.is_weak(w) for w in words]
        unknown = [self.known.is_unknown(w) for w in words]
        for i, w in enumerate(words):
            if not weak[i]:
                continue
            if unknown[i]:  # never seen in training: noise to the retriever, may go
                out.append((words[:i] + words[i + 1 :], w))
            for c in self.substitutes(w):
                out.append((words[:i] + c.split() + words[i + 1 :], w))

        def framing(span: list[str], flags: list[bool]) -> bool:  # unknown words and stopwords only, at least one unknown
            return any(flags) and all(f or x in STOPWORDS for x, f in zip(span, flags, strict=True))

        for j in range(2, n // 2 + 1):  # framing spans (2+ words) at either end; single words are above
            if framing(words[:j], unknown[:j]):
                out.append((words[j:], " ".join(words[:j])))
            if framing(words[n - j :], unknown[n - j :]):
                out.append((words[: n - j], " ".join(words[n - j :])))
        return [(ws, c) for ws, c in out if ws]

    def _score(self, texts: list[str], req: AgentRequest) -> np.ndarray:
        emb = self.retriever.encode_texts(texts, batch_size=256)
        s = emb @ req.gt_embedding
        if req.candidate_embeddings is not None and len(req.candidate_embeddings):
            s = s - (emb @ req.candidate_embeddings.T).max(axis=1)
        return s

    def propose(self, req: AgentRequest) -> Proposal:
        if req.gt_embedding is None:
            req.gt_embedding = self.retriever.encode_images([req.gt_image])[0]
        start = req.query
        if req.history:  # continue from the best earlier proposal (lowest GT rank)
            start = min(req.history, key=lambda h: h[1])[0]
        words = tokenize_words(start)
        if not words:
            return Proposal([], [], error="no words to edit")
        current = self._score([" ".join(words)], req)[0]
        concepts: list[str] = []
        states: list[str] = []
        alternatives: list[tuple[float, str]] = []
        for _ in range(self.max_edits):
            edits = self._edits(words)
            if not edits:
                break
            texts = [" ".join(ws) for ws, _ in edits]
            scores = self._score(texts, req)
            order = np.argsort(-scores, kind="stable")
            best = int(order[0])
            alternatives = [(float(scores[int(k)]), texts[int(k)]) for k in order[1:4]]
            if scores[best] <= current + self.min_gain:
                break
            words, concept = edits[best]
            current = float(scores[best])
            if concept not in concepts:
                concepts.append(concept)
            states.append(" ".join(words))
        proposals = list(dict.fromkeys(states[::-1] + [t for _, t in alternatives]))  # best (latest) first
        seen = {h[0] for h in req.history} | {req.query.lower()}
        proposals = [p for p in proposals if p not in seen][: self.n_proposals]
        return Proposal(concepts, proposals)

    def propose_batch(self, requests: Sequence[AgentRequest]) -> list[Proposal]:
        out = []
        for r in requests:
            try:
                out.append(self.propose(r))
            except RAQOError as exc:
                out.append(Proposal([], [], error=str(exc)))
        return out


# --- chat MLLM agent -----------------------------------------------------------------------

CHAT_SYSTEM = (
    "You help a text-to-image retriever. You see a search query, the correct image (first) and images the "
    "retriever wrongly ranked higher. Name the concepts in the query that the retriever misreads, and rewrite "
    "the query so the retriever finds the correct image: change only those concepts, keep the intent. "
    'Answer with JSON only: {"concepts": ["..."], "rewrites": ["...", "..."]}'
)


def _data_url(path: Path) -> str:
    data = Path(path).read_bytes()
    mime = "image/png" if str(path).lower().endswith(".png") else "image/jpeg"
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


class ChatMLLMAgent:
    """An OpenAI-compatible ``/chat/completions`` endpoint with image input.

    Args:
        base_url: e.g. ``http://localhost:8000/v1`` (vLLM), ``http://localhost:11434/v1`` (Ollama).
        model: the served model name.
        api_key_env: environment variable holding the key (never passed in code or config files).
        concurrency: requests in flight at once.
        max_retries: retries after 429, 5xx, timeouts, connection errors and malformed JSON.
        timeout_s: per-request timeout.
        n_rewrites: rewrites asked for per request.
    """

    name = "chat"

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key_env: str = "OPENAI_API_KEY",
        concurrency: int = 8,
        max_retries: int = 3,
        timeout_s: float = 60.0,
        backoff_s: float = 0.5,
        n_rewrites: int = 5,
        max_candidates: int = 3,
        temperature: float = 0.0,
    ) -> None:
        from raqo_core.http import JSONClient

        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise RAQOError(f"base_url must be an http(s) URL, got {base_url!r}")
        if concurrency < 1 or max_retries < 0 or not timeout_s > 0:
            raise RAQOError(f"concurrency must be >= 1, max_retries >= 0 and timeout_s > 0, got {concurrency}, {max_retries}, {timeout_s}")
        self.client = JSONClient(
            base_url,
            api_key=os.environ.get(api_key_env) or None,
            timeout_s=timeout_s,
            max_retries=max_retries,
            backoff_s=backoff_s,
            concurrency=concurrency,
        )
        self.url = self.client.url("chat/completions")
        self.model = model
        self.api_key_env = api_key_env
        self.concurrency = concurrency
        self.max_retries = max_retries
        self.timeout_s = timeout_s
        self.backoff_s = backoff_s
        self.n_rewrites = n_rewrites
        self.max_candidates = max_candidates
        self.temperature = temperature
        self._tokens = {"prompt_tokens": 0, "completion_tokens": 0}
        self._lock = threading.Lock()

    @property
    def usage(self) -> dict[str, int]:
        """Requests, retries and failures (the HTTP client's) plus the tokens the server reported."""
        return {**self.client.usage, **self._tokens}

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "url": self.url, "model": self.model, "concurrency": self.concurrency, "usage": dict(self.usage)}

    def _payload(self, req: AgentRequest) -> dict[str, Any]:
        text = f"Query: {req.query}\nAsk for {self.n_rewrites} rewrites."
        if req.history:
            text += "\nEarlier rewrites and the rank of the correct image (0 = top):\n" + "\n".join(
                f"- {q} (rank {r})" for q, r in req.history[-8:]
            )
        content: list[dict[str, Any]] = [
            {"type": "text", "text": text},
            {"type": "image_url", "image_url": {"url": _data_url(req.gt_image)}},
        ]
        for c in req.candidates[: self.max_candidates]:
            content.append({"type": "image_url", "image_url": {"url": _data_url(c)}})
        return {
            "model": self.model,
            "temperature": self.temperature,
            "response_format": {"type": "json_object"},
            "messages": [{"role": "system", "content": CHAT_SYSTEM}, {"role": "user", "content": content}],
        }

    @staticmethod
    def parse_answer(text: str) -> tuple[list[str], list[str]]:
        """``{"concepts": [...], "rewrites": [...]}`` (a fenced code block around it is tolerated)."""
        m = re.search(r"\{.*\}", text, re.S)
        if not m:
            raise ValueError("no JSON object in the answer")
        obj = json.loads(m.group(0))
        concepts = [str(c).strip() for c in obj.get("concepts") or [] if str(c).strip()]
        rewrites = [str(r).strip() for r in obj.get("rewrites") or [] if str(r).strip()]
        if not rewrites and not isinstance(obj.get("rewrites"), list):
            raise ValueError("answer has no 'rewrites' list")
        return concepts, rewrites

    def _post(self, payload: dict[str, Any]) -> Proposal:
        from raqo_core.http import HTTPFailure

        def parse(data: Any) -> Proposal:
            concepts, rewrites = self.parse_answer(data["choices"][0]["message"]["content"])
            usage = data.get("usage") or {}
            return Proposal(concepts, rewrites, None, int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0)))

        try:
            proposal = self.client.request("chat/completions", payload, parse)
        except HTTPFailure as exc:
            return Proposal([], [], error=str(exc))
        with self._lock:
            self._tokens["prompt_tokens"] += proposal.prompt_tokens
            self._tokens["completion_tokens"] += proposal.completion_tokens
        return proposal

    def propose_batch(self, requests: Sequence[AgentRequest]) -> list[Proposal]:
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(lambda r: self._post(self._payload(r)), requests))
