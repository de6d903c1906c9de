"""How much of the NA-vs-oracle T2I gap each row of `raqo compare` outputs closes, per register.

python -m benchmarks.analysis.gap_closed results/lookup/test_user.json results/lookup/test_transfer.json \
    --out results/lookup/test_gap     # writes test_gap.json and test_gap.md

The oracle of a query is the plain caption of its image at the same position (the test split's ``oracle``
register, the val split's captions; for the paraphrase register, ``paraphrase_oracle``, the caption each
paraphrase was made from): what a perfect rewrite would search with. Gap closed = (row − NA) / (oracle −
NA) in R@1, with the row's paired 95 % interval scaled the same way.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from raqo_core.data.manifest import load_manifest
from raqo_core.evaluation.recall import recall_at_k
from raqo_core.io import atomic_write_json, atomic_write_text
from raqo_core.paths import embedded_benchmark_dir
from raqo_core.retriever.registry import load_retriever


def oracle_ranks(m: Any, ret: Any, img: np.ndarray, split: str, register: str, n: int) -> np.ndarray:
    texts, owner = [], []
    for i, r in enumerate(m.split(split)):
        oracle = "paraphrase_oracle" if register == "paraphrase" else "oracle" if split == "test" else "captions"
        plain = r.texts(oracle)
        for k, _ in enumerate(r.texts(register)):
            texts.append(plain[k % len(plain)])
            owner.append(i)
    texts, owner = texts[:n], owner[:n]
    q = ret.encode_texts(texts, batch_size=256)
    sims = q @ img.T
    target = sims[np.arange(len(owner)), owner]
    return (sims > target[:, None]).sum(axis=1)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("compares", nargs="+", help="`raqo compare --json` outputs (reference row: NA)")
    ap.add_argument("--out", required=True, help="output path without suffix (.json and .md are written)")
    a = ap.parse_args(argv)
    m = load_manifest(embedded_benchmark_dir(0))
    ret = load_retriever("embedded")
    imgs: dict[str, np.ndarray] = {}
    table: list[dict[str, Any]] = []
    for path in a.compares:
        res = json.loads(Path(path).read_text())
        split, register, n = res["split"], res["register"], res["n_queries"]
        if split not in imgs:
            imgs[split] = ret.encode_images([m.image_path(r) for r in m.split(split)], progress=False)
        oracle = recall_at_k(oracle_ranks(m, ret, imgs[split], split, register, n), (1, 5, 10))
        na = res["recall"][res["reference"]]
        gap = oracle["R@1"] - na["R@1"]
        for name, rec in res["recall"].items():
            pair = res["paired"].get(name, {}).get("R@1")
            row = {"split": split, "register": register, "n": n, "row": name, "R@1": rec["R@1"], "R@5": rec["R@5"], "R@10": rec["R@10"]}
            row["oracle_R@1"], row["NA_R@1"] = oracle["R@1"], na["R@1"]
            if pair:
                row["delta_R@1"] = [pair["delta"], pair["low"], pair["high"]]
                row["gap_closed_pct"] = [round(100 * v / gap, 1) for v in row["delta_R@1"]] if gap > 0 else None
                row["delta_R@5"] = res["paired"][name]["R@5"]["delta"]
                row["delta_R@10"] = res["paired"][name]["R@10"]["delta"]
            unparse = (res.get("outcomes") or {}).get(name, {}).get("unparseable_pct")
            row["unparseable_pct"] = unparse
            table.append(row)
    out = Path(a.out)
    atomic_write_json(out.with_suffix(".json"), table)
    lines = [
        "| split / register (n) | row | R@1 | ΔR@1 [95 % CI] | gap closed % [CI] | ΔR@5 | ΔR@10 | unparseable % |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in table:
        head = f"{r['split']} / {r['register']} ({r['n']}; oracle {r['oracle_R@1']:.1f})"
        if "delta_R@1" not in r:
            lines.append(f"| {head} | {r['row']} | {r['R@1']:.1f} | reference | — | — | — | — |")
            continue
        d, g = r["delta_R@1"], r["gap_closed_pct"]
        gap = "—" if g is None else f"{g[0]:.0f} [{g[1]:.0f}, {g[2]:.0f}]"
        un = "—" if r["unparseable_pct"] is None else f"{r['unparseable_pct']:.1f}"
        lines.append(
            f"| {head} | {r['row']} | {r['R@1']:.1f} | {d[0]:+.1f} [{d[1]:+.1f}, {d[2]:+.1f}] | {gap} | "
            f"{r['delta_R@5']:+.1f} | {r['delta_R@10']:+.1f} | {un} |"
        )
    atomic_write_text(out.with_suffix(".md"), "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
