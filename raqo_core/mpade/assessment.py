"""Query ambiguity assessment: the T2I rank of each query's ground-truth image."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from raqo_core.errors import RAQOError

UNAMBIGUOUS, AMBIGUOUS, MIDDLE = "unambiguous", "ambiguous", "middle"
SCORES = ("cosine", "contrastive")


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


def target_scores(
    text_emb: np.ndarray, image_emb: np.ndarray, targets: np.ndarray, *, kind: str = "cosine", scale: float = 100.0, chunk: int = 1024
) -> np.ndarray:
    """How well each text retrieves its target image: MPADE's candidate score and PRO's reward.

    - ``cosine``: the text–target similarity (the paper's "text-image similarity").
    - ``contrastive``: ``log p(target | text) / scale``, the retriever's softmax over the whole
      gallery at logit ``scale`` (CLIP: 100), divided back onto the cosine scale. It rewards beating
      the other images, which is what recall counts: a rewrite that raises the target's similarity
      but raises a look-alike's more scores lower. Measured on the embedded benchmark's PRO lists,
      the best candidate by cosine is the retriever's top hit in 91 of 160 lists, by this score in 112.
    """
    if kind not in SCORES:
        raise RAQOError(f"unknown score {kind!r}; expected one of {SCORES}")
    if scale <= 0:
        raise RAQOError(f"score scale must be > 0, got {scale}")
    text_emb = np.asarray(text_emb, dtype=np.float32)
    image_emb = np.asarray(image_emb, dtype=np.float32)
    targets = np.asarray(targets, dtype=np.int64)
    if len(targets) != len(text_emb):
        raise RAQOError(f"got {len(targets)} targets for {len(text_emb)} texts")
    out = np.empty(len(text_emb), dtype=np.float64)
    for a in range(0, len(text_emb), chunk):
        sims = text_emb[a : a + chunk].astype(np.float64) @ image_emb.T.astype(np.float64)
        tgt = sims[np.arange(len(sims)), targets[a : a + chunk]]
        if kind == "cosine":
            out[a : a + chunk] = tgt
            continue
        top = sims.max(axis=1, keepdims=True)
        lse = top[:, 0] * scale + np.log(np.exp(scale * (sims - top)).sum(axis=1))
        out[a : a + chunk] = tgt - lse / scale
    return out
