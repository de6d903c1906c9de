"""How often each ReCoT adapter names a held-out word, from the rewrites `raqo eval`/`raqo compare` cached.

python -m benchmarks.analysis.perturb_detection [--runs runs] > results/recot_vs_direct/perturb/detection.txt

Run the commands in results/recot_vs_direct/README.md first; nothing is generated here.
`held_out_vocabulary()` is used for this analysis only, never in training.
"""

from __future__ import annotations

import argparse
from collections import Counter

from benchmarks.analysis.rewrite_cache import cached
from raqo_core.data.manifest import load_manifest
from raqo_core.data.synth import held_out_vocabulary
from raqo_core.paths import embedded_benchmark_dir

ROWS = (
    ("shipped ReCoT (no perturbations)", "embedded/ccd+qre+pro/adapter"),
    ("perturbations in D_CCR", "embedded_pert/ccd+qre+pro/adapter"),
    ("perturbations capped, in D_CCR and D_QRE", "embedded_pertcap/ccd+qre+pro/adapter"),
)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", default="runs", help="the folder `raqo train --out` wrote (default: runs)")
    runs = ap.parse_args(argv).runs
    m = load_manifest(embedded_benchmark_dir(0))
    held = held_out_vocabulary()
    queries = [t for r in m.split("test") for t in r.texts("transfer")][:1000]
    print("test transfer register, first 1,000 queries")
    for name, path in ROWS:
        c = cached(f"{runs}/{path}", "recot")
        rs = [c[q] for q in queries]
        named = sum(any(h in x.lower() for x in (r["concepts"] or []) for h in held) for r in rs)
        reasons = Counter(r["reason"].split(":")[0] for r in rs)
        print(f"{name}: a held-out word named in {named}; " + ", ".join(f"{k} {v}" for k, v in reasons.most_common()))


if __name__ == "__main__":
    main()
