"""Look-up settings side by side, without a rewriter: T2I Recall@K of the look-up alone under each
:class:`~raqo_core.lookup.LookupConfig` variant, paired with the first variant on the same queries.

python -m benchmarks.analysis.lookup_variants --set gloss --split val --register user --register paraphrase \
    --out results/lookup/gloss/val      # writes val.json and val.md

No language model runs, so a register of 500 queries takes seconds. Use it on val to choose a setting; the
chosen one is then measured with the rewriter by ``raqo compare`` (results/lookup/README.md).
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

import numpy as np

from raqo_core.data.manifest import load_manifest
from raqo_core.evaluation.evaluate import EvalSetup, evaluate
from raqo_core.evaluation.paired import paired_bootstrap
from raqo_core.io import atomic_write_json, atomic_write_text
from raqo_core.lookup import ConceptLookup, LookupConfig, embedded_lookup_dir
from raqo_core.lookup.lookup import DEFAULT_SOURCES
from raqo_core.paths import embedded_benchmark_dir
from raqo_core.retriever.registry import shared_retriever

# a set of variants: name → the LookupConfig fields it changes and, optionally, the sources it uses ("sources");
# the first variant of a set is the reference of each paired comparison
VARIANT_SETS: dict[str, dict[str, dict[str, Any]]] = {
    "lexicon_weak": {  # results/lookup/lexicon_weak/val (2026-12-03)
        "unknown words only": {"lexicon_weak": False, "sources": ["lexicon", "wordnet"]},
        "+ lexicon for weak words": {"lexicon_weak": True, "sources": ["lexicon", "wordnet"]},
    },
    "gloss": {  # results/lookup/gloss/val
        "shipped (lexicon, wordnet)": {"sources": ["lexicon", "wordnet"]},
        "+ gloss": {"sources": ["lexicon", "wordnet", "gloss"]},
        "+ drop unresolved": {"sources": ["lexicon", "wordnet"], "drop_unresolved": True},
        "+ gloss + drop unresolved": {"sources": ["lexicon", "wordnet", "gloss"], "drop_unresolved": True},
        "+ visual gloss": {"sources": ["lexicon", "wordnet", "visual_gloss"]},
        "+ visual gloss + drop unresolved": {"sources": ["lexicon", "wordnet", "visual_gloss"], "drop_unresolved": True},
    },
}


def build_lookup(over: dict[str, Any]) -> ConceptLookup:
    fields = {k: v for k, v in over.items() if k != "sources"}
    cfg = dataclasses.replace(LookupConfig(), **fields)
    return ConceptLookup.from_folder(embedded_lookup_dir(), cfg, sources=over.get("sources", DEFAULT_SOURCES))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--split", default="val")
    ap.add_argument("--register", action="append", required=True)
    ap.add_argument("--limit", type=int, default=500)
    ap.add_argument("--set", default="gloss", choices=sorted(VARIANT_SETS), help="which variants to compare")
    ap.add_argument("--out", required=True, help="OUT.json and OUT.md are written")
    a = ap.parse_args(argv)
    variants = VARIANT_SETS[a.set]
    m = load_manifest(embedded_benchmark_dir(0))
    ret = shared_retriever("embedded")
    setup = {"split": a.split, "limit": a.limit, "progress": False}
    out: dict[str, Any] = {"split": a.split, "limit": a.limit, "variants": variants, "registers": {}}
    lines = [
        f"Look-up alone, {a.split}, first {a.limit} queries per register, full gallery; Δ vs {next(iter(variants))!r} (paired, 95 % CI).",
        "",
        "| register | variant | R@1 | R@5 | R@10 | ΔR@1 [95 % CI] (wins vs losses) |",
        "|---|---|---|---|---|---|",
    ]
    for reg in a.register:
        na = np.asarray(evaluate(m, ret, EvalSetup(register=reg, **setup))["t2i_ranks"])
        ranks = {"NA": na}
        for name, over in variants.items():
            lk = build_lookup(over)
            res = evaluate(m, ret, EvalSetup(register=reg, **setup), rewrite_queries=lambda qs, lk=lk: [lk.apply(q)[0] for q in qs])
            ranks[name] = np.asarray(res["t2i_ranks"])
        ref = ranks[next(iter(variants))]
        rows = {}
        for name, r in ranks.items():
            rec = {f"R@{k}": round(float((r < k).mean() * 100), 1) for k in (1, 5, 10)}
            d = paired_bootstrap(r, ref, k=1)
            rows[name] = {**rec, "vs_reference_R@1": dataclasses.asdict(d)}
            cmp = "reference" if r is ref else f"{d.delta:+.1f} [{d.low:+.1f}, {d.high:+.1f}] ({d.a_only} vs {d.b_only})"
            lines.append(f"| {reg} | {name} | {rec['R@1']} | {rec['R@5']} | {rec['R@10']} | {cmp} |")
        out["registers"][reg] = rows
    atomic_write_json(f"{a.out}.json", out)
    atomic_write_text(f"{a.out}.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
