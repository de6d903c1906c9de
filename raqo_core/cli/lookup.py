"""``raqo lookup build`` (a retriever's look-up folder: its caption vocabulary plus MPADE's preference lexicon) and
``raqo lookup show QUERY`` (what the look-up does to a query, word by word)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lookup", help="the retriever look-up (detect → rewrite → look up): build one, or show what it does")
    s = p.add_subparsers(dest="lookup_command", required=True)
    b = s.add_parser("build", help="vocabulary.json from the train captions (+ preferences.json from an MPADE folder)")
    b.add_argument("--data", required=True, help="'embedded' or a dataset folder whose train captions the retriever learnt")
    b.add_argument(
        "--mpade", default=None, help="an MPADE output folder with preferences.json (raqo preferences DIR); default: WordNet only"
    )
    b.add_argument("--out", required=True, help="the look-up folder to write (then: --lookup FOLDER)")
    b.add_argument("--min-count", type=int, default=3, help="words seen fewer times are not in the vocabulary (default: %(default)s)")
    b.set_defaults(func=run_build)
    w = s.add_parser("show", help="the look-up's decision for each weak word of each query")
    w.add_argument("queries", nargs="+", help="queries (or rewrites) to look up")
    w.add_argument("--lookup", default="embedded", help="'embedded' or a folder from `raqo lookup build` (default: %(default)s)")
    w.add_argument("--json", action="store_true", help="print JSON instead of text")
    w.set_defaults(func=run_show)


def run_build(a: argparse.Namespace) -> int:
    from pathlib import Path

    from raqo_core.data.manifest import load_manifest
    from raqo_core.lookup import ConceptLookup
    from raqo_core.lookup.build import build_lookup_folder

    if a.data == "embedded":
        from raqo_core.paths import embedded_benchmark_dir

        data = embedded_benchmark_dir(0)
    else:
        data = Path(a.data)
    out = build_lookup_folder(load_manifest(data), a.out, mpade=a.mpade, min_count=a.min_count, source=f"train captions of {a.data}")
    lk = ConceptLookup.from_folder(out)
    d = lk.describe()
    print(
        f"vocabulary: {d['vocabulary']['words']} words, {d['vocabulary']['strong']} strong (seen {d['vocabulary']['strong_count']}+ times)"
    )
    for name, status in d["sources"].items():
        print(f"{name}: {status}")
    print(f"wrote {out}")
    return 0


def run_show(a: argparse.Namespace) -> int:
    import json

    from raqo_core.rewriter.lookup import resolve_lookup

    lk = resolve_lookup(a.lookup)
    rows = []
    for q in a.queries:
        text, hints = lk.apply(q)
        rows.append({"query": q, "looked_up": text, "hints": [h.to_dict() for h in hints]})
    if a.json:
        print(json.dumps({"sources": lk.status, "queries": rows}, indent=2))
        return 0
    print("sources: " + "; ".join(f"{k} {v}" for k, v in lk.status.items()))
    for r in rows:
        print(f"\nquery:     {r['query']}\nlooked up: {r['looked_up']}")
        for h in r["hints"]:
            to = "(kept)" if h["replacement"] is None else "(deleted)" if h["replacement"] == "" else h["replacement"]
            print(f"  {h['word']} → {to}  [{h['source'] or '-'}] {h['reason']}")
    return 0
