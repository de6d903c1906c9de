"""PRO's effect pooled over the three whole chains: discordant queries summed, one exact sign test.

python results/pro_seeds/pool.py

Chain 0 is the shipped recipe (Table 4's paired no_pro row in results/report/report.json); chains 1 and 2
are `raqo compare` runs here. "full-only" counts queries the full chain finds at R@K and no_pro misses.
"""

from __future__ import annotations

import json
from pathlib import Path

from raqo_core.evaluation.paired import sign_test_p

HERE = Path(__file__).resolve().parent


def main() -> None:
    report = json.loads((HERE.parent / "report" / "report.json").read_text())
    chains = {"seed 0": report["table4_paired"]["no_pro"]}
    for seed in (1, 2):
        d = json.loads((HERE / f"chain_seed{seed}_pro.json").read_text())
        chains[f"seed {seed}"] = d["paired"][f"full_chain_seed{seed}"]
    print("| chain | " + " | ".join(f"Δ {m} (full-only vs no_pro-only)" for m in ("R@1", "R@5", "R@10")) + " |")
    print("|---|---|---|---|")
    for name, p in chains.items():
        print(
            f"| {name} | "
            + " | ".join(f"{p[m]['delta']:+.1f} ({p[m]['a_only']} vs {p[m]['b_only']})" for m in ("R@1", "R@5", "R@10"))
            + " |"
        )
    cells = []
    for m in ("R@1", "R@5", "R@10"):
        a = sum(p[m]["a_only"] for p in chains.values())
        b = sum(p[m]["b_only"] for p in chains.values())
        cells.append(f"{(a - b) / 10 / len(chains):+.2f} ({a} vs {b}, p = {sign_test_p(a, b):.3f})")
    print("| pooled (mean Δ) | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
