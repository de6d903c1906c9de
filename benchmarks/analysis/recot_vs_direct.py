"""Where direct rewriting gains over ReCoT, per query, from the two shipped adapters' cached rewrites.

python -m benchmarks.analysis.recot_vs_direct > results/recot_vs_direct/analyse.txt

Reads the disk caches `raqo compare`/`raqo eval` wrote for both adapters (run the compare commands in
results/grounding/README.md first) and ranks each query's target image with the embedded retriever:
- split by ReCoT's decision (it rewrote the query, or answered `Concepts: None`);
- "spliced": ReCoT's rewrite with every edit outside the detected concept spans undone, i.e. a rewrite
  confined to what the concept line names;
- two hybrids of the adapters' outputs: ReCoT where it rewrote and direct elsewhere, and the reverse.
"""

from __future__ import annotations

import argparse
import difflib
import os

import numpy as np

from benchmarks.analysis.rewrite_cache import cached, recall, target_ranker
from raqo_core.data.manifest import load_manifest
from raqo_core.paths import embedded_benchmark_dir
from raqo_core.retriever.registry import load_retriever
from raqo_core.rewriter.adapters import EMBEDDED_ADAPTER_DIR, EMBEDDED_DIRECT_ADAPTER_DIR

SETS = (("val", "user", 500), ("test", "user", 1000), ("test", "transfer", 1000))


def concept_spans(query: str, concepts: list[str]) -> list[tuple[int, int]]:
    qw = [w.strip(",.") for w in query.split()]
    out = []
    for c in concepts:
        cw = [w.strip(",.") for w in c.split()]
        out += [(s, s + len(cw)) for s in range(len(qw) - len(cw) + 1) if qw[s : s + len(cw)] == cw]
    return out


def splice(query: str, rewrite: str, concepts: list[str]) -> str:
    """Keep the rewrite's edits that touch a detected concept span; undo the others."""
    qw, rw = query.split(), rewrite.split()
    spans = concept_spans(query, concepts)
    res: list[str] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=qw, b=rw, autojunk=False).get_opcodes():
        if op == "equal":
            res += qw[i1:i2]
            continue
        touches = any(s <= i1 <= e for s, e in spans) if op == "insert" else any(i1 < e and s < i2 for s, e in spans)
        res += rw[j1:j2] if touches else qw[i1:i2]
    return " ".join(res)


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    m = load_manifest(os.environ.get("RAQO_DATA") or embedded_benchmark_dir(0))
    ret = load_retriever("embedded")
    recot, direct = cached(str(EMBEDDED_ADAPTER_DIR), "recot"), cached(str(EMBEDDED_DIRECT_ADAPTER_DIR), "direct")
    for split, register, n in SETS:
        queries, ranks = target_ranker(m, ret, split, register, n)
        rc, dr = [recot[q] for q in queries], [direct[q] for q in queries]
        applied = np.array([r["applied"] for r in rc])
        r_na, r_rc, r_dr = ranks(queries), ranks([r["rewritten_query"] for r in rc]), ranks([r["rewritten_query"] for r in dr])
        spliced = ranks([splice(q, r["rewritten_query"], r["concepts"]) if r["applied"] else q for q, r in zip(queries, rc, strict=True)])
        print(f"## {split} {register}, first {n} queries: T2I R@1 / R@5 / R@10")
        print(f"NA                                   {recall(r_na)}")
        print(f"ReCoT                                {recall(r_rc)}")
        print(f"direct                               {recall(r_dr)}")
        print(f"ReCoT, edits confined to concepts    {recall(spliced)}")
        print(f"ReCoT where it rewrote, else direct  {recall(np.where(applied, r_rc, r_dr))}")
        print(f"direct where ReCoT rewrote, else NA  {recall(np.where(applied, r_dr, r_na))}")
        for name, sel in (("ReCoT rewrote", applied), ("ReCoT said None", ~applied)):
            hits = [int((r[sel] == 0).sum()) for r in (r_na, r_rc, r_dr)]
            print(f"  {name:16s} {int(sel.sum()):4d} queries; hits at R@1: NA {hits[0]}, ReCoT {hits[1]}, direct {hits[2]}")
        print()


if __name__ == "__main__":
    main()
