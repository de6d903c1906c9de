"""Pair rows of separate `raqo compare` runs over the same queries (e.g. two base models, which take one `--model`
each): per register, each row's T2I Recall@K with Δ against a reference row and its 95 % bootstrap interval.

python -m benchmarks.analysis.pair_runs --ref NA --out results/gemma3/test \
    results/gemma3/test_user.smollm2.json results/gemma3/test_user.gemma3.json ...   # writes test.json and test.md

Rows are named ``FILE-TAG:ROW`` where FILE-TAG is the part of the file name after the register (``smollm2``); the
reference ``--ref ROW`` is taken from the first file of each register. Files of one register must hold the same
split, register and number of queries; their reference rows must agree query by query (the same NA), or it stops.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from raqo_core.evaluation.paired import paired_bootstrap
from raqo_core.io import atomic_write_json, atomic_write_text

KS = (1, 5, 10)


def tag(path: Path) -> str:
    parts = path.name.split(".")
    return parts[1] if len(parts) > 2 else path.stem


def pair(files: list[Path], ref: str) -> dict[str, Any]:
    by_register: dict[str, list[tuple[Path, dict[str, Any]]]] = defaultdict(list)
    for f in files:
        d = json.loads(f.read_text())
        by_register[d["register"]].append((f, d))
    out: dict[str, Any] = {}
    for register, runs in by_register.items():
        first = runs[0][1]
        key = (first["split"], first["n_queries"])
        ref_ranks = np.asarray(first["ranks"][ref])
        rows: dict[str, Any] = {}
        for f, d in runs:
            if (d["split"], d["n_queries"]) != key:
                raise SystemExit(f"{f}: split/queries {(d['split'], d['n_queries'])} differ from {key} in {runs[0][0]}")
            if ref in d["ranks"] and not np.array_equal(np.asarray(d["ranks"][ref]), ref_ranks):
                raise SystemExit(f"{f}: its {ref!r} ranks differ from {runs[0][0]}'s: not the same queries")
            for name, ranks in d["ranks"].items():
                if name == ref and f is not runs[0][0]:
                    continue
                r = np.asarray(ranks)
                label = name if name == ref else f"{tag(f)}:{name}"
                rec = {f"R@{k}": round(float((r < k).mean() * 100), 1) for k in KS}
                deltas = {f"R@{k}": dataclasses.asdict(paired_bootstrap(r, ref_ranks, k=k)) for k in KS} if name != ref else {}
                rows[label] = {"recall": rec, "vs_ref": deltas, "ranks": r.tolist()}
        out[register] = {"split": key[0], "n_queries": key[1], "reference": ref, "rows": rows}
    return out


def markdown(result: dict[str, Any]) -> str:
    lines = ["| register (n) | row | R@1 | R@5 | R@10 | ΔR@1 [95 % CI] (wins vs losses) |", "|---|---|---|---|---|---|"]
    for register, block in result.items():
        for name, row in block["rows"].items():
            rec = row["recall"]
            d = row["vs_ref"].get("R@1")
            cmp = "reference" if d is None else f"{d['delta']:+.1f} [{d['low']:+.1f}, {d['high']:+.1f}] ({d['a_only']} vs {d['b_only']})"
            lines.append(f"| {register} ({block['n_queries']}) | {name} | {rec['R@1']} | {rec['R@5']} | {rec['R@10']} | {cmp} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+", type=Path, help="raqo compare --json outputs")
    ap.add_argument("--ref", default="NA", help="the reference row (default: %(default)s)")
    ap.add_argument("--out", required=True, help="OUT.json and OUT.md are written")
    a = ap.parse_args(argv)
    result = pair(a.files, a.ref)
    atomic_write_json(f"{a.out}.json", result)
    md = markdown(result)
    atomic_write_text(f"{a.out}.md", md)
    print(md, end="")


if __name__ == "__main__":
    main()
