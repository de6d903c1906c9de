"""MPADE with the offline agent on the embedded train split: run time and queries/s per stage.

python -m benchmarks.mpade_speed --out results/bench/mpade_speed.json [--queries-per-image 1] [--mpade-out runs/embedded/mpade]
"""

from __future__ import annotations

import argparse
import time

from benchmarks._common import write


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="results/bench/mpade_speed.json")
    ap.add_argument("--mpade-out", default="runs/embedded/mpade")
    ap.add_argument("--queries-per-image", type=int, default=1)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    import torch

    from raqo_core.data.manifest import load_manifest
    from raqo_core.mpade.agents import OfflineAgent
    from raqo_core.mpade.config import MPADEConfig
    from raqo_core.mpade.engine import run_mpade
    from raqo_core.paths import embedded_benchmark_dir
    from raqo_core.retriever.registry import load_retriever

    torch.set_num_threads(a.threads)
    m = load_manifest(embedded_benchmark_dir(0))
    r = load_retriever("embedded")
    cfg = MPADEConfig(register="user", queries_per_image=a.queries_per_image, limit=a.limit, rounds=a.rounds)
    t0 = time.time()
    agent = OfflineAgent.from_manifest(r, m)
    meta = run_mpade(m, r, agent, a.mpade_out, cfg, vocabulary=agent.vocab)
    total = time.time() - t0
    tm = meta["timings"]
    labels = meta["labels"]
    write(
        a.out,
        {
            "n_queries": meta["n_queries"],
            "labels": labels,
            "counts": meta.get("counts"),
            "total_seconds": round(total, 1),
            "timings": tm,
            "optimisation_queries_per_s": round((labels["ambiguous"] + labels["unambiguous"]) / max(tm["optimisation_s"], 1e-6), 2),
            "accepted_rewrites_per_ambiguous_query": meta.get("accepted_rewrites_per_ambiguous_query"),
            "acceptance_by_round": meta.get("acceptance_by_round"),
            "top_concepts": meta.get("top_concepts", [])[:15],
            "target_total_seconds": 1200,
        },
    )


if __name__ == "__main__":
    main()
