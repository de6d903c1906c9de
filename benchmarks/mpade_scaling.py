"""MPADE throughput against gallery size: the gallery is encoded once per run, assessment ranks every query against
it in one batched pass, and each optimisation round encodes all proposals of a chunk in one batch.

For each gallery size N (the first N train images of the embedded benchmark), one MPADE run over the same 128 user
queries (the first 128 of those images' captions, 2 rounds, offline agent): image-encoding rate, assessment
queries/s, optimisation queries/s and the total.

python -m benchmarks.mpade_scaling --out results/bench/mpade_scaling.json [--sizes 500,1000,2000,4000,6000]
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time

from benchmarks._common import write


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="results/bench/mpade_scaling.json")
    ap.add_argument("--sizes", default="500,1000,2000,4000,6000")
    ap.add_argument("--queries", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    import torch

    from raqo_core.data.manifest import Manifest, load_manifest
    from raqo_core.mpade.agents import OfflineAgent
    from raqo_core.mpade.config import MPADEConfig
    from raqo_core.mpade.engine import run_mpade
    from raqo_core.paths import embedded_benchmark_dir
    from raqo_core.retriever.registry import load_retriever

    torch.set_num_threads(a.threads)
    full = load_manifest(embedded_benchmark_dir(0))
    train = full.split("train")
    r = load_retriever("embedded")
    agent = OfflineAgent.from_manifest(r, full)  # one vocabulary for every size: only the gallery changes
    rows = []
    for n in [int(x) for x in a.sizes.split(",")]:
        m = Manifest(full.root, [dataclasses.replace(x) for x in train[:n]])
        cfg = MPADEConfig(register="user", limit=a.queries, rounds=2, chunk_size=32, queries_per_image=1)
        with tempfile.TemporaryDirectory() as d:
            t0 = time.perf_counter()
            meta = run_mpade(m, r, agent, d, cfg, vocabulary=agent.vocab, progress=False)
            total = time.perf_counter() - t0
        tm = meta["timings"]
        mined = meta["labels"]["ambiguous"] + meta["labels"]["unambiguous"]
        rows.append(
            {
                "gallery_images": n,
                "queries": meta["n_queries"],
                "labels": meta["labels"],
                "assessment_s": tm["assessment_s"],  # encoding the gallery and the queries, ranking
                "images_per_s": round(n / max(tm["assessment_s"], 1e-6), 1),
                "optimisation_s": tm["optimisation_s"],
                "optimisation_queries_per_s": round(mined / max(tm["optimisation_s"], 1e-6), 2),
                "total_s": round(total, 2),
                "queries_per_s": round(meta["n_queries"] / total, 2),
            }
        )
        print(rows[-1], flush=True)
    write(a.out, {"threads": a.threads, "device": "cpu", "rows": rows})


if __name__ == "__main__":
    main()
