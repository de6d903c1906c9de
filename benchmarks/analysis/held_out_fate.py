"""What each adapter's rewrite does to the held-out words of the transfer queries: kept or replaced.

python -m benchmarks.analysis.held_out_fate [--runs runs] > results/recot_vs_direct/held_out_fate.txt

It reads the rewrites that the `raqo compare` runs on the transfer split cached (results/recot_vs_direct/README.md);
nothing is generated. `held_out_vocabulary()` is used for this analysis only, never in training.
"""

from __future__ import annotations

import argparse

from benchmarks.analysis.rewrite_cache import cached
from raqo_core.data.manifest import load_manifest
from raqo_core.data.synth import held_out_vocabulary
from raqo_core.paths import embedded_benchmark_dir

ROWS = (
    ("ReCoT, shipped", "embedded/ccd+qre+pro/adapter", "recot"),
    ("ReCoT, concept lines from the edits", "embedded_edits/ccd+qre+pro/adapter", "recot"),
    ("ReCoT, capped perturbations", "embedded_pertcap/ccd+qre+pro/adapter", "recot"),
    ("direct", "embedded/direct:qre+pro/adapter", "direct"),
)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", default="runs", help="the folder `raqo train --out` wrote (default: runs)")
    runs = ap.parse_args(argv).runs
    m = load_manifest(embedded_benchmark_dir(0))
    held = sorted(w for w in held_out_vocabulary() if " " not in w)
    queries = [t for r in m.split("test") for t in r.texts("transfer")][:1000]
    print("test transfer register, first 1,000 queries: occurrences of each one-word held-out form that the rewrite replaced")
    print("| adapter | named in the concept line | replaced | " + " | ".join(held) + " |")
    print("|---" * (len(held) + 3) + "|")
    for name, path, mode in ROWS:
        c = cached(f"{runs}/{path}", mode)
        seen = dict.fromkeys(held, 0)
        gone = dict.fromkeys(held, 0)
        named = replaced = 0
        for q in queries:
            r = c[q]
            out = (r["rewritten_query"] or q).lower().split()
            concepts = " ".join(r["concepts"] or []).lower().split()
            for w in held:
                if w in q.lower().split():
                    seen[w] += 1
                    named += w in concepts
                    if w not in out:
                        gone[w] += 1
                        replaced += 1
        total = sum(seen.values())
        cells = " | ".join(f"{gone[w]}/{seen[w]}" for w in held)
        print(f"| {name} | {named if mode == 'recot' else '–'} of {total} | {replaced} of {total} | {cells} |")


if __name__ == "__main__":
    main()
