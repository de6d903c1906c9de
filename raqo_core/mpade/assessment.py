"""Query ambiguity assessment: the T2I rank of each query's ground-truth image."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

UNAMBIGUOUS, AMBIGUOUS, MIDDLE = "unambiguous", "ambiguous", "middle"


@dataclass(frozen=True)
class QueryItem:
    index: int  # position in the mined query list (stable across runs)
    query: str
    image_index: int  # index into the split's records
    rank: int  # 0 = GT on top

    def label(self, unambiguous_k: int, ambiguous_k: int) -> str:
        return label(self.rank, unambiguous_k, ambiguous_k)


def label(rank: int, unambiguous_k: int = 5, ambiguous_k: int = 10) -> str:
    """GT within the top ``unambiguous_k`` → unambiguous; beyond the top ``ambiguous_k`` → ambiguous."""
    if rank < unambiguous_k:
        return UNAMBIGUOUS
    if rank >= ambiguous_k:
        return AMBIGUOUS
    return MIDDLE


def ranks_against(text_emb: np.ndarray, image_emb: np.ndarray, targets: np.ndarray, chunk: int = 2048) -> np.ndarray:
    from raqo_core.evaluation.recall import chunked_similarity_ranks

    return chunked_similarity_ranks(text_emb, image_emb, targets, chunk=chunk)


def top_wrong(text_emb: np.ndarray, image_emb: np.ndarray, target: int, k: int) -> list[int]:
    sims = image_emb @ text_emb
    order = np.argsort(-sims, kind="stable")
    return [int(j) for j in order[: k + 1] if j != target][:k]


def count_labels(items: list[QueryItem], unambiguous_k: int, ambiguous_k: int) -> dict[str, int]:
    out = {UNAMBIGUOUS: 0, AMBIGUOUS: 0, MIDDLE: 0}
    for it in items:
        out[it.label(unambiguous_k, ambiguous_k)] += 1
    return out
