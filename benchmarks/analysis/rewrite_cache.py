"""Shared by the analyses: an adapter's cached rewrites, and target-image ranks for any stand-in texts."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np


def cached(adapter: str, mode: str) -> dict[str, dict[str, Any]]:
    """query → the cached :class:`RewriteResult` dict of ``adapter`` in ``mode`` (offline settings, as the
    evaluation caches them). The rewriter is loaded to name its cache file; nothing is generated."""
    from raqo_core.rewriter.factory import build_rewriter, offline_config

    rw: Any = build_rewriter("raqo", offline_config(adapter=adapter, mode=mode, lookup=None), disk_cache=True)
    path = rw.path
    if not path.is_file():
        raise SystemExit(f"no cached rewrites for {adapter} ({mode}) at {path}: run the raqo eval/compare commands first")
    with open(path, encoding="utf-8") as fh:
        return {o["q"]: o["r"] for o in map(json.loads, fh)}


def recall(ranks: np.ndarray) -> str:
    return " / ".join(f"{(ranks < k).mean() * 100:.1f}" for k in (1, 5, 10))


def target_ranker(m: Any, ret: Any, split: str, register: str, n: int) -> tuple[list[str], Callable[[list[str]], np.ndarray]]:
    """The first ``n`` queries of a split and register, and a function that gives, for texts standing in
    for those queries (rewrites, or the queries themselves), the rank of each one's target image in the
    split's gallery (0 = first)."""
    recs = m.split(split)
    pairs = [(i, t) for i, r in enumerate(recs) for t in r.texts(register)][:n]
    owner = np.array([i for i, _ in pairs])
    img = ret.encode_images([m.image_path(r) for r in recs], progress=False)

    def ranks(texts: list[str]) -> np.ndarray:
        s = ret.encode_texts(texts, progress=False) @ img.T
        return np.asarray((s > s[np.arange(len(texts)), owner][:, None]).sum(1))

    return [q for _, q in pairs], ranks
