"""``raqo rewrite "QUERY" …``: rewrite queries with RAQO (or a baseline) and show the decision."""

from __future__ import annotations

import argparse
import json

from raqo_core.cli._common import add_common, add_rewriter_args, rewriter_config, set_threads


def register(sub: argparse._SubParsersAction) -> None:
    w = sub.add_parser("rewrite", help="rewrite queries with RAQO (or a baseline)")
    w.add_argument("query", nargs="+")
    w.add_argument(
        "--rewriter", default="raqo", help="raqo, or a baseline: llm-rewrite, wordnet, visual-description, lookup (default: raqo)"
    )
    add_rewriter_args(w)
    w.add_argument("--json", action="store_true")
    add_common(w)
    w.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    from raqo_core.rewriter.factory import build_rewriter

    set_threads(a.threads)
    results = build_rewriter(a.rewriter, rewriter_config(a)).load().rewrite_batch(a.query)
    if a.json:
        print(json.dumps([r.to_dict() for r in results], ensure_ascii=False, indent=2))
        return 0
    for r in results:
        print(f"query:    {r.original_query}")
        print(f"concepts: {', '.join(r.concepts) if r.concepts else 'None'}")
        print(f"rewrite:  {r.rewritten_query}")
        print(f"applied:  {r.applied} ({r.reason})")
        for h in r.hints:  # --lookup: what the look-up did with each weak word
            to = "(kept)" if h["replacement"] is None else "(deleted)" if h["replacement"] == "" else h["replacement"]
            print(f"look-up:  {h['word']} → {to} ({h['reason']})")
        print(f"latency:  {r.latency_ms:.0f} ms")
    return 0
