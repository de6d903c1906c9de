"""MPADE configuration (the paper's thresholds by default)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from raqo_core.errors import RAQOError

CONCEPT_SOURCES = ("agent", "edits", "changed")


@dataclass
class MPADEConfig:
    split: str = field(default="train", metadata={"help": "split whose queries are mined"})
    register: str = field(default="captions", metadata={"help": "caption register used as queries (the embedded benchmark: user)"})
    unambiguous_k: int = field(default=5, metadata={"help": "GT within the top K → unambiguous (paper: 5)"})
    ambiguous_k: int = field(default=10, metadata={"help": "GT beyond the top K → ambiguous (paper: 10)"})
    rounds: int = field(default=3, metadata={"help": "optimisation rounds per ambiguous query"})
    target_rewrites: int = field(default=5, metadata={"help": "stop a query once this many rewrites are accepted (PRO list length)"})
    n_candidates: int = field(default=3, metadata={"help": "wrong top candidates shown to the agent"})
    perturb: bool = field(default=True, metadata={"help": "perturb unambiguous queries with rare WordNet synonyms"})
    perturb_qre: bool = field(
        default=True,
        metadata={"help": "also teach rewriting on perturbations (restore the original words); false: concept detection only"},
    )
    perturb_ratio: float | None = field(
        default=None,
        metadata={
            "help": "keep at most this many perturbations per mined ambiguous query, sampled with `seed`"
            " (None: all). Perturbations are plentiful; uncapped they can outnumber the retriever's real failures"
        },
    )
    perturb_exclude: list[str] = field(
        default_factory=list,
        metadata={"help": "words never used as perturbations, e.g. an evaluation split's vocabulary (also applied when relabelling)"},
    )
    perturb_margin: float = field(default=0.02, metadata={"help": "min drop of text–GT-image similarity to keep a perturbation"})
    filter_threshold: float = field(default=0.5, metadata={"help": "min MiniLM similarity between a generated query and its original"})
    none_ratio: float = field(default=0.5, metadata={"help": "None examples in D_CCR per concept example"})
    limit: int | None = field(default=None, metadata={"help": "mine only the first N queries (dry runs)"})
    queries_per_image: int | None = field(default=None, metadata={"help": "use at most N captions per image"})
    max_concepts: int = field(default=3, metadata={"help": "concepts kept per query (the first, most rewarded edits)"})
    max_concept_words: int = field(default=6, metadata={"help": "longer spans are not named as concepts (they teach copying)"})
    concepts: str = field(
        default="agent",
        metadata={
            "help": "where a query's concept line comes from: 'agent' (the spans the agent named in its first round) or"
            " 'edits' (the query spans the best accepted rewrite changes, so the line names exactly what the rewrite edits) or"
            " 'changed' (the agent's spans, less those the best accepted rewrite keeps word for word)"
        },
    )
    score: str = field(
        default="cosine",
        metadata={
            "help": "candidate score / PRO reward: 'cosine' (text–target similarity, the paper's) or 'contrastive'"
            " (log-softmax of the target over the gallery / score_scale: rewards beating the other images)"
        },
    )
    score_scale: float = field(default=100.0, metadata={"help": "logit scale of the contrastive score (CLIP: 100)"})
    chunk_size: int = field(default=64, metadata={"help": "queries per resumable chunk"})
    seed: int = field(default=0, metadata={"help": "seed for sampling None examples and capped perturbations"})

    def excluded_words(self) -> frozenset[str]:
        """``perturb_exclude`` as lower-case words."""
        return frozenset(w.strip().lower() for w in self.perturb_exclude)

    def validate(self) -> None:
        if not 1 <= self.unambiguous_k <= self.ambiguous_k:
            raise RAQOError(f"need 1 <= unambiguous_k <= ambiguous_k, got {self.unambiguous_k} and {self.ambiguous_k}")
        if self.rounds < 1 or self.target_rewrites < 1 or self.chunk_size < 1:
            raise RAQOError(
                f"rounds, target_rewrites and chunk_size must be >= 1, got {self.rounds}, {self.target_rewrites}, {self.chunk_size}"
            )
        if not -1 <= self.filter_threshold <= 1:
            raise RAQOError(f"filter_threshold must be in [-1, 1], got {self.filter_threshold}")
        from raqo_core.mpade.assessment import SCORES

        if self.score not in SCORES:
            raise RAQOError(f"score must be {' or '.join(map(repr, SCORES))}, got {self.score!r}")
        if self.score_scale <= 0:
            raise RAQOError(f"score_scale must be > 0, got {self.score_scale}")
        if self.concepts not in CONCEPT_SOURCES:
            raise RAQOError(f"concepts must be one of {', '.join(map(repr, CONCEPT_SOURCES))}; got {self.concepts!r}")
        if self.max_concepts < 1 or self.max_concept_words < 1:
            raise RAQOError(f"max_concepts and max_concept_words must be >= 1, got {self.max_concepts} and {self.max_concept_words}")
        if self.perturb_ratio is not None and not (self.perturb_ratio >= 0 and math.isfinite(self.perturb_ratio)):
            raise RAQOError(f"perturb_ratio must be a finite number >= 0 or None, got {self.perturb_ratio!r}")
        if isinstance(self.perturb_exclude, str) or not all(isinstance(w, str) and w.strip() for w in self.perturb_exclude):
            raise RAQOError(f"perturb_exclude must be a list of non-empty words, got {self.perturb_exclude!r}")
        if self.limit is not None and self.limit < 1:
            raise RAQOError(f"limit must be >= 1, got {self.limit}")
