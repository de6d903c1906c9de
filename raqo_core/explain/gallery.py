"""Batch explanations: a small gallery of figures (the paper's Figure 4 analogue) and the evidence that the
concepts RAQO names are the words the retriever misreads.

For every query the rewriter rewrote, against its target image: the per-word attributions of the *original*
query; a named concept is *low* when the mean attribution of its words is below the median over the query's
words. :func:`concept_stats` reports the share of low concepts (with a 95 % Wilson interval), beside how the
target's similarity and rank change from the query to its rewrite.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from raqo_core.errors import RAQOError
from raqo_core.explain.attribution import attribute_text
from raqo_core.explain.explainer import Explainer
from raqo_core.io import atomic_write_json, atomic_write_text
from raqo_core.text import find_span


def concept_positions(words: list[str], concept: str) -> list[int]:
    """The positions of ``concept``'s words in ``words`` (its first occurrence), or [] when it is not there."""
    parts = concept.split()
    start = find_span(words, parts)
    return [] if start is None else list(range(start, start + len(parts)))


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95 % Wilson score interval of ``k`` successes in ``n``."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return (max(0.0, c - h), min(1.0, c + h))


def concept_stats(explainer: Explainer, results: list[Any]) -> dict[str, Any]:
    """Over the rewritten ``results`` (RewriteResult-like: original_query, rewritten_query, concepts, applied)
    whose query is a text of the gallery: the share of named concepts with below-median attribution, and the
    target's similarity and rank before and after the rewrite."""
    used = [r for r in results if r.applied and r.concepts and r.rewritten_query != r.original_query]
    rows = []
    n_concepts = low = unmatched = 0
    for r in used:
        try:
            _, _, idx = explainer.resolve_image("target", r.original_query)
        except RAQOError:  # a query that is not a gallery text has no target
            continue
        assert idx is not None and explainer.gallery_emb is not None
        img = explainer.gallery_emb[idx]
        t = attribute_text(explainer.retriever, r.original_query, img, steps=explainer.steps)
        med = float(np.median(t.scores))
        for c in r.concepts:
            pos = concept_positions(t.words, c)
            if not pos:
                unmatched += 1
                continue
            n_concepts += 1
            low += int(np.mean([t.scores[p] for p in pos]) < med)
        emb = explainer.retriever.encode_texts([r.original_query, r.rewritten_query])
        sims = explainer.gallery_emb @ emb.T  # [N, 2]
        own = sims[idx]
        ranks = [int((np.delete(sims[:, k], idx) > own[k]).sum()) for k in range(2)]
        rows.append({"sim": own.tolist(), "rank": ranks})
    n = len(rows)
    before = np.asarray([x["rank"][0] for x in rows]) if rows else np.zeros(0)
    after = np.asarray([x["rank"][1] for x in rows]) if rows else np.zeros(0)
    dsim = np.asarray([x["sim"][1] - x["sim"][0] for x in rows]) if rows else np.zeros(0)
    lo, hi = wilson(low, n_concepts)
    return {
        "queries": n,
        "concepts": n_concepts,
        "concepts_not_found_in_query": unmatched,
        "below_median_share": round(low / n_concepts, 4) if n_concepts else None,
        "below_median_ci95": [round(lo, 4), round(hi, 4)],
        "target_similarity_mean": [
            round(float(np.mean([x["sim"][0] for x in rows])), 4),
            round(float(np.mean([x["sim"][1] for x in rows])), 4),
        ]
        if rows
        else None,
        "target_similarity_gain_mean": round(float(dsim.mean()), 4) if n else None,
        "target_rank_median": [float(np.median(before)), float(np.median(after))] if n else None,
        "rank_improved_share": round(float((after < before).mean()), 4) if n else None,
        "rank_worse_share": round(float((after > before).mean()), 4) if n else None,
        "top1_share": [round(float((before == 0).mean()), 4), round(float((after == 0).mean()), 4)] if n else None,
    }


def write_gallery(explainer: Explainer, results: list[Any], out: str | os.PathLike[str], *, n: int = 4) -> dict[str, Any]:
    """``n`` figures (the first rewritten results whose query has a target in the gallery) plus ``gallery.md``
    and ``gallery.json`` in ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    items: list[dict[str, Any]] = []
    for r in results:
        if len(items) >= n:
            break
        if not (r.applied and r.rewritten_query != r.original_query):
            continue
        try:
            e = explainer.explain(r.original_query, image="target", rewrite=r.rewritten_query, concepts=list(r.concepts or []))
        except RAQOError:  # no target for this query
            continue
        k = len(items) + 1
        png = e.save_png(out / f"explain_{k:02d}.png")
        atomic_write_json(out / f"explain_{k:02d}.json", e.to_dict())
        items.append(
            {
                "png": png.name,
                "query": r.original_query,
                "rewrite": r.rewritten_query,
                "rank": [e.query.rank, e.rewrite.rank if e.rewrite else None],
            }
        )
    lines = ["# Why the rewrites help (integrated gradients)", ""]
    lines += [
        "Each figure: the words the retriever weighs for the target image (bars; named concepts in orange) and the image patches"
        " that raise the similarity, for the query and for RAQO's rewrite.",
        "",
    ]
    for it in items:
        r0, r1 = it["rank"]
        lines += [
            f"- `{it['query']}` → `{it['rewrite']}` (target rank {r0 + 1} → {r1 + 1 if r1 is not None else '?'})",
            f"  ![]({it['png']})",
        ]
    atomic_write_text(out / "gallery.md", "\n".join(lines) + "\n")
    atomic_write_json(out / "gallery.json", {"items": items})
    return {"items": items, "dir": str(out)}


def load_results(path: str | os.PathLike[str]) -> list[Any]:
    """RewriteResults from a JSON/JSONL file of their dicts (``raqo rewrite --json``, the rewrite cache)."""
    from raqo_core.rewriter.result import RewriteResult

    text = Path(path).read_text(encoding="utf-8")
    rows = json.loads(text) if text.lstrip().startswith("[") else [json.loads(x) for x in text.splitlines() if x.strip()]
    keep = {f for f in RewriteResult.__dataclass_fields__}
    return [RewriteResult(**{k: v for k, v in row.items() if k in keep}) for row in rows]


def report_section(explainer: Explainer, results: list[Any], out: str | os.PathLike[str], *, n: int = 4) -> list[str]:
    """``raqo report``'s explanation section: a gallery of ``n`` figures in ``out`` and the concept statistics over
    ``results``, as markdown lines (the figures' paths relative to the report)."""
    out = Path(out)
    g = write_gallery(explainer, results, out, n=n)
    st = concept_stats(explainer, results)
    atomic_write_json(out / "concept_stats.json", st)
    lines = ["## Why the rewrites help (integrated gradients)", ""]
    if st["queries"]:
        lo, hi = st["below_median_ci95"]
        share = st["below_median_share"]
        lines += [
            f"Over {st['queries']} rewritten test queries with a target: {st['concepts']} named concepts, of which "
            f"{'—' if share is None else f'{100 * share:.1f} %'} (95 % CI {100 * lo:.1f}–{100 * hi:.1f} %) carry below-median "
            f"attribution in the original query; the target's mean similarity goes {st['target_similarity_mean'][0]:.3f} → "
            f"{st['target_similarity_mean'][1]:.3f}, its rank improves for {100 * st['rank_improved_share']:.1f} % and worsens "
            f"for {100 * st['rank_worse_share']:.1f} % of them (top-1: {100 * st['top1_share'][0]:.1f} → {100 * st['top1_share'][1]:.1f} %).",
            "",
        ]
    for it in g["items"]:
        lines += [f"![{it['query']}]({out.name}/{it['png']})", ""]
    return lines
