"""Shared helpers for the framework parity tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from raqo_core.data.manifest import load_manifest
from raqo_core.evaluation.evaluate import EvalSetup, evaluate
from raqo_core.paths import embedded_benchmark_dir


def benchmark():
    return load_manifest(embedded_benchmark_dir(0))


def user_queries(manifest, n: int) -> tuple[list[str], list[str]]:
    """The first ``n`` user queries of the test split and their ground-truth image ids."""
    qs, gts = [], []
    for r in manifest.split("test"):
        for t in r.texts("user"):
            qs.append(t)
            gts.append(r.image_id)
    return qs[:n], gts[:n]


def recall_from_ranked_ids(ranked: Sequence[Sequence[str]], gts: Sequence[str], ks=(1, 5, 10)) -> dict[str, float]:
    out = {}
    for k in ks:
        hits = sum(gt in list(ids)[:k] for ids, gt in zip(ranked, gts, strict=True))
        out[f"R@{k}"] = 100.0 * hits / len(gts)
    return out


def raqo_eval_t2i(manifest, retriever, n: int, rewrite: Callable | None = None) -> dict[str, float]:
    return evaluate(manifest, retriever, EvalSetup(register="user", limit=n, progress=False), rewrite_queries=rewrite)["t2i"]
