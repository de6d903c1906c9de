"""Val R@1 hits of the adapters of the 2026-11-27 D_QRE-size experiment, split by whether a ReCoT model rewrote the query and by the
rank the retriever gives the target for the query as written (NA).

Reads the disk-cached rewrites that `raqo eval` wrote (nothing is generated) and ranks each query's target
with the embedded retriever. Run from the repository root:
    python -m benchmarks.analysis.qre_groups [--runs runs] > results/recot_vs_direct/qre_all/groups.txt
"""

from __future__ import annotations

import argparse

import numpy as np

from benchmarks.analysis.rewrite_cache import cached, target_ranker
from raqo_core.data.manifest import load_manifest
from raqo_core.paths import embedded_benchmark_dir
from raqo_core.retriever.registry import load_retriever

ROWS = {
    "recot_640": ("embedded/ccd+qre+pro/adapter", "recot"),
    "recot_all": ("embedded_qreall/ccd+qre+pro/adapter", "recot"),
    "direct_640": ("embedded/direct:qre+pro/adapter", "direct"),
    "direct_all": ("embedded_qreall_direct/direct:qre+pro/adapter", "direct"),
    "recot_top1": ("embedded_top1/ccd+qre+pro/adapter", "recot"),
    "direct_top1": ("embedded_top1_direct/direct:qre+pro/adapter", "direct"),
}
BANDS = ((0, 1), (1, 5), (5, 10), (10, None))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", default="runs", help="the folder `raqo train --out` wrote (default: runs)")
    runs = ap.parse_args(argv).runs
    m = load_manifest(embedded_benchmark_dir(0))
    queries, ranks = target_ranker(m, load_retriever("embedded"), "val", "user", 500)
    na = ranks(queries)

    hit, rewrote = {}, {}
    for name, (adapter, mode) in ROWS.items():
        cache = cached(f"{runs}/{adapter}", mode)
        missing = [q for q in queries if q not in cache]
        if missing:
            raise SystemExit(f"{name}: {len(missing)} val queries are not cached; run the raqo eval commands first")
        texts = [cache[q]["rewritten_query"] for q in queries]
        hit[name] = ranks(texts) == 0
        rewrote[name] = np.array([t != q for t, q in zip(texts, queries, strict=True)])
        print(f"{name}: R@1 {hit[name].mean() * 100:.1f}, rewrote {rewrote[name].sum()} of {len(queries)}")
    for ref in ("recot_640", "recot_all", "recot_top1"):
        for label, group in (("rewrote", rewrote[ref]), ("left alone", ~rewrote[ref])):
            counts = ", ".join(f"{n} {int(hit[n][group].sum())}" for n in ROWS)
            print(f"queries {ref} {label} ({group.sum()}): R@1 hits {counts}")
            for lo, hi in BANDS:
                band = group & (na >= lo) & (na < (hi if hi is not None else np.iinfo(na.dtype).max))
                counts = ", ".join(f"{n} {int(hit[n][band].sum())}" for n in ROWS)
                print(f"    NA rank {lo}-{hi - 1 if hi else 'on'} ({band.sum()}): {counts}")


if __name__ == "__main__":
    main()
