"""PRO's effect over six whole chains, and ReCoT vs direct over all their seeds, pooled query by query.

python -m benchmarks.analysis.pro_seeds_pool [--json results/pro_seeds/six_chains.json] > results/pro_seeds/pool.txt

Reads the per-query ranks that one `raqo compare` run wrote (the command is in README.md). Chains 0-2 were
trained on this 2-core CPU and chains 3-5 on an H200 (results/gpu_train/); every row was evaluated here on the
first 1,000 test user queries. Each chain's PRO adapter is paired with its own CCD -> QRE adapter, and
`pooled_paired_bootstrap` averages the chains per query. It resamples and sign-flips whole queries, so a hard
query counts once, not once per seed. The interval holds the six seeds fixed; the spread between
seeds is shown as the per-chain Δ.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from raqo_core.evaluation.paired import PooledDelta, paired_bootstrap, pooled_paired_bootstrap

KS = (1, 5, 10)


def _cell(p: PooledDelta) -> str:
    return f"{p.delta:+.2f} [{p.low:+.2f}, {p.high:+.2f}] (p={p.p_value:.3f})"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", default="results/pro_seeds/six_chains.json", help="what `raqo compare --json` wrote for the six chains")
    data = json.loads(Path(ap.parse_args(argv).json).read_text())
    ranks, recall = data["ranks"], data["recall"]  # recall: what `raqo compare` computed from these ranks
    seeds = sorted(int(n.removeprefix("full_seed")) for n in ranks if n.startswith("full_seed"))
    pairs = [(ranks[f"full_seed{s}"], ranks[f"no_pro_seed{s}"]) for s in seeds]

    print(f"PRO: full chain minus its own CCD -> QRE adapter, {len(seeds)} chains, {data['n_queries']:,} test user queries\n")
    print("| chain | R@1 no_pro → full | " + " | ".join(f"Δ R@{k} (full-only vs no_pro-only)" for k in KS) + " |")
    print("|---|---|" + "---|" * len(KS))
    for s, (full, no_pro) in zip(seeds, pairs, strict=True):
        cells = []
        for k in KS:
            d = paired_bootstrap(full, no_pro, k=k, n_boot=1)
            cells.append(f"{d.delta:+.1f} ({d.a_only} vs {d.b_only})")
        where = "GPU" if s >= 3 else "CPU"
        r1 = f"{recall[f'no_pro_seed{s}']['R@1']:.1f} → {recall[f'full_seed{s}']['R@1']:.1f}"
        print(f"| seed {s} ({where}) | {r1} | " + " | ".join(cells) + " |")
    pooled = [pooled_paired_bootstrap(pairs, k=k, n_boot=10000) for k in KS]
    print("| pooled, mean Δ [95 % CI] (p) | | " + " | ".join(map(_cell, pooled)) + " |")
    print("| chains with Δ > 0 | | " + " | ".join(f"{p.replicates_positive} of {len(seeds)}" for p in pooled) + " |")

    direct = sorted(n for n in ranks if n.startswith("direct_seed"))
    if direct:
        recot = [f"full_seed{s}" for s in seeds]
        cross = [(ranks[d], ranks[f]) for d in direct for f in recot]
        print(f"\nDirect rewriting ({len(direct)} seeds) minus ReCoT ({len(recot)} whole chains), every pair, pooled per query\n")
        print("| | " + " | ".join(f"R@{k}" for k in KS) + " |")
        print("|---|" + "---|" * len(KS))
        for name in direct + recot:
            print(f"| {name} | " + " | ".join(f"{recall[name][f'R@{k}']:.1f}" for k in KS) + " |")
        res = [pooled_paired_bootstrap(cross, k=k, n_boot=10000) for k in KS]
        print("| direct − ReCoT, mean Δ [95 % CI] (p) | " + " | ".join(map(_cell, res)) + " |")
        print("| pairs with direct ahead | " + " | ".join(f"{p.replicates_positive} of {len(cross)}" for p in res) + " |")


if __name__ == "__main__":
    main()
