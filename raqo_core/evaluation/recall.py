"""Recall@K for text→image and image→text retrieval, from similarity matrices.

Ranks are *pessimistic on ties*: a ground truth's rank is the number of gallery items
scoring strictly higher, so an item tied with the ground truth does not push it down,
matching the usual ``argsort`` implementations up to tie order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from raqo_core.errors import RAQOError

DEFAULT_KS = (1, 5, 10)


def t2i_ranks(sims: np.ndarray, targets: Sequence[int] | np.ndarray) -> np.ndarray:
    """Rank (0 = top) of each query's ground-truth image. ``sims``: ``[n_queries, n_images]``."""
    sims = np.asarray(sims)
    tgt = np.asarray(targets, dtype=np.int64)
    if sims.ndim != 2 or sims.shape[0] != len(tgt):
        raise RAQOError(f"similarity matrix {sims.shape} does not match {len(tgt)} targets; expected [n_queries, n_images]")
    if len(tgt) and (tgt.min() < 0 or tgt.max() >= sims.shape[1]):
        raise RAQOError(f"target index out of range [0, {sims.shape[1]}): {int(tgt.min())}..{int(tgt.max())}")
    gt = sims[np.arange(len(tgt)), tgt]
    return (sims > gt[:, None]).sum(axis=1)


def i2t_ranks(sims: np.ndarray, text_owner: Sequence[int] | np.ndarray) -> np.ndarray:
    """Rank of the best-ranked ground-truth caption per image.

    ``sims``: ``[n_images, n_texts]``; ``text_owner[j]`` is the image index caption ``j`` belongs to.
    """
    sims = np.asarray(sims)
    owner = np.asarray(text_owner, dtype=np.int64)
    if sims.ndim != 2 or sims.shape[1] != len(owner):
        raise RAQOError(f"similarity matrix {sims.shape} does not match {len(owner)} caption owners; expected [n_images, n_texts]")
    best = np.full(sims.shape[0], -np.inf, dtype=np.float64)
    has = np.zeros(sims.shape[0], dtype=bool)
    for j, img in enumerate(owner):
        if 0 <= img < sims.shape[0]:
            best[img] = max(best[img], sims[img, j])
            has[img] = True
    if not has.all():
        missing = np.flatnonzero(~has)[:5].tolist()
        raise RAQOError(f"images {missing} have no caption in the text gallery; every query image needs one")
    return (sims > best[:, None]).sum(axis=1)


def recall_at_k(ranks: np.ndarray, ks: Sequence[int] = DEFAULT_KS) -> dict[str, float]:
    """``{"R@1": %, ...}`` in percent, like the paper's tables."""
    ranks = np.asarray(ranks)
    if ranks.size == 0:
        raise RAQOError("no ranks to compute recall from (empty query set)")
    return {f"R@{k}": float(100.0 * (ranks < k).mean()) for k in ks}


def chunked_similarity_ranks(
    queries: np.ndarray, gallery: np.ndarray, targets: Sequence[int] | np.ndarray, chunk: int = 2048
) -> np.ndarray:
    """T2I ranks without materialising the full matrix for big query sets."""
    if queries.shape[1] != gallery.shape[1]:
        raise RAQOError(f"query dim {queries.shape[1]} != gallery dim {gallery.shape[1]} (embedding-dimension mismatch)")
    tgt = np.asarray(targets)
    out = [t2i_ranks(queries[a : a + chunk] @ gallery.T, tgt[a : a + chunk]) for a in range(0, len(queries), chunk)]
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)
