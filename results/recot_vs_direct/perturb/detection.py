"""How often each ReCoT adapter names a held-out word, from the rewrites `raqo eval`/`raqo compare` cached.

python results/recot_vs_direct/perturb/detection.py > results/recot_vs_direct/perturb/detection.txt

Run the commands in results/recot_vs_direct/README.md (session 8) first; no model is loaded here.
`held_out_vocabulary()` is used for this analysis only, never in training.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from raqo_core.data.manifest import load_manifest
from raqo_core.data.synth import held_out_vocabulary
from raqo_core.paths import embedded_benchmark_dir

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from analyse import cached  # noqa: E402

ROWS = (
    ("shipped ReCoT (no perturbations)", "runs/embedded/ccd+qre+pro/adapter"),
    ("perturbations in D_CCR", "runs/embedded_pert/ccd+qre+pro/adapter"),
    ("perturbations capped, in D_CCR and D_QRE", "runs/embedded_pertcap/ccd+qre+pro/adapter"),
)


def main() -> None:
    m = load_manifest(embedded_benchmark_dir(0))
    held = held_out_vocabulary()
    queries = [t for r in m.split("test") for t in r.texts("transfer")][:1000]
    print("test transfer register, first 1,000 queries")
    for name, path in ROWS:
        c = cached(path, "recot")
        rs = [c[q] for q in queries]
        named = sum(any(h in x.lower() for x in (r["concepts"] or []) for h in held) for r in rs)
        reasons = Counter(r["reason"].split(":")[0] for r in rs)
        print(f"{name}: a held-out word named in {named}; " + ", ".join(f"{k} {v}" for k, v in reasons.most_common()))


if __name__ == "__main__":
    main()
