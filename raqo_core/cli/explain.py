"""``raqo explain "QUERY" --image …``: integrated-gradients attributions of the retriever's similarity for a query and
its rewrite (a PNG + JSON); ``--batch N``: a gallery of N figures and the concept statistics over the test queries."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from raqo_core.cli._common import add_common, add_rewriter_args, rewriter_config, set_threads


def register(sub: argparse._SubParsersAction) -> None:
    from raqo_core.explain.attribution import DEFAULT_STEPS

    e = sub.add_parser("explain", help="why a query fails and its rewrite helps: attributions on words and image patches (PNG + JSON)")
    e.add_argument("query", nargs="?", help="the query (omit with --batch)")
    e.add_argument(
        "--image", default="target", help="a gallery image id, an image path, 'target' (the image the query describes) or 'top1'"
    )
    e.add_argument("--rewrite", default=None, help="the rewrite to explain (default: RAQO computes it; 'none' = the query alone)")
    e.add_argument("--rewriter", default="raqo", help="the rewriter that computes the rewrite (default: %(default)s)")
    add_rewriter_args(e)
    e.add_argument("--retriever", default="embedded", help="an open_clip retriever spec (default: %(default)s)")
    e.add_argument("--data", default="embedded", help="the gallery's dataset: 'embedded' or a folder; 'none' = no gallery")
    e.add_argument("--split", default="test")
    e.add_argument("--steps", type=int, default=DEFAULT_STEPS, help="integration steps (default: %(default)s)")
    e.add_argument("--out", default=None, help="PNG path (single) or folder (--batch); default: results/explain/")
    e.add_argument("--batch", type=int, default=None, metavar="N", help="write a gallery of N figures plus concept statistics")
    e.add_argument("--register", default="user", help="--batch: the caption register whose queries are rewritten")
    e.add_argument("--limit", type=int, default=200, help="--batch: queries rewritten for the statistics (default: %(default)s)")
    e.add_argument(
        "--results", default=None, help="--batch: rewrite results to use (JSON/JSONL of RewriteResult dicts) instead of rewriting"
    )
    e.add_argument("--json", action="store_true", help="print the numbers as JSON")
    add_common(e)
    e.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    from raqo_core.errors import RAQOError
    from raqo_core.explain import Explainer

    set_threads(a.threads)
    if a.batch is None and not a.query:
        raise RAQOError("raqo explain needs a query, or --batch N for a gallery")
    data = None if str(a.data).lower() == "none" else a.data
    ex = Explainer(a.retriever, data=data, split=a.split, steps=a.steps)
    if a.batch is not None:
        return _batch(a, ex)
    rewriter = None
    rewrite = None if a.rewrite is None or a.rewrite.lower() == "none" else a.rewrite
    if a.rewrite is None:
        from raqo_core.rewriter.factory import build_rewriter

        rewriter = build_rewriter(a.rewriter, rewriter_config(a)).load()
    e = ex.explain(a.query, image=a.image, rewrite=rewrite, rewriter=rewriter)
    out = Path(a.out or "results/explain/explain.png")
    png = e.save_png(out)
    from raqo_core.io import atomic_write_json

    atomic_write_json(out.with_suffix(".json"), e.to_dict())
    if a.json:
        print(json.dumps(e.to_dict(), ensure_ascii=False, indent=2))
    else:
        for name, side in (("query", e.query), ("rewrite", e.rewrite)):
            if side is None:
                continue
            top = sorted(zip(side.tokens.words, side.tokens.scores, strict=True), key=lambda x: -x[1])[:3]
            rank = "?" if side.rank is None else side.rank + 1
            print(
                f"{name:8s} {side.tokens.text!r}: similarity {side.tokens.similarity:.3f}, image rank {rank}; weighs "
                + ", ".join(f"{w} {s:+.3f}" for w, s in top)
            )
        if e.rewrite is None and e.reason:
            print(f"not rewritten: {e.reason}")
        print(f"wrote {png} and {out.with_suffix('.json')}")
    return 0


def _batch(a: argparse.Namespace, ex: object) -> int:
    from raqo_core.errors import RAQOError
    from raqo_core.explain.gallery import concept_stats, load_results, write_gallery
    from raqo_core.io import atomic_write_json

    if a.batch < 1 or a.limit < 1:
        raise RAQOError(f"--batch and --limit must be >= 1, got {a.batch} and {a.limit}")
    if a.results:
        results = load_results(a.results)[: a.limit]
    else:
        from raqo_core.rewriter.factory import build_rewriter, offline_config

        queries = [t for r in ex.records for t in r.texts(a.register)][: a.limit]  # type: ignore[attr-defined]
        rewriter = build_rewriter(a.rewriter, offline_config(rewriter_config(a)), disk_cache=True).load()
        results = rewriter.rewrite_batch(queries)
    out = Path(a.out or "results/explain")
    gallery = write_gallery(ex, results, out, n=a.batch)  # type: ignore[arg-type]
    stats = concept_stats(ex, results)  # type: ignore[arg-type]
    stats["rewritten_of"] = len(results)
    atomic_write_json(out / "concept_stats.json", stats)
    print(json.dumps({"gallery": gallery["dir"], "figures": len(gallery["items"]), "concept_stats": stats}, indent=2))
    return 0
