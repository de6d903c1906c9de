"""T2I recall if queries detected as None were rewritten anyway whenever P(None) < tau.

python -m benchmarks.analysis.detection_sweep val 500 /tmp/force_val.json
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from raqo_core.data.manifest import load_manifest
from raqo_core.paths import embedded_benchmark_dir
from raqo_core.retriever.registry import load_retriever


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("split")
    ap.add_argument("n", type=int)
    ap.add_argument("path", help="the JSON detection_force wrote")
    a = ap.parse_args(argv)
    split, n, path = a.split, a.n, a.path
    m = load_manifest(embedded_benchmark_dir(0))
    recs = m.split(split)
    owner = np.array([i for i, r in enumerate(recs) for _ in r.texts("user")][:n])
    ret = load_retriever("embedded")
    img = ret.encode_images([m.image_path(r) for r in recs], progress=False)

    def ranks(qs: list[str]) -> np.ndarray:
        s = ret.encode_texts(qs, progress=False) @ img.T
        return (s > s[np.arange(len(qs)), owner][:, None]).sum(1)

    with open(path, encoding="utf-8") as fh:
        rec = json.load(fh)
    p_none = np.array([r["p_none"] for r in rec])
    greedy = ranks([r["greedy"]["rewritten_query"] for r in rec])
    forced = ranks([r.get("forced", r["greedy"])["rewritten_query"] for r in rec])
    is_none = np.array(["forced" in r for r in rec])
    print(f"greedy R@1 {(greedy == 0).mean() * 100:.1f}; every None query rewritten: {(forced == 0).mean() * 100:.1f}")
    print(f"None answers: {is_none.sum()}; P(None) quartiles over them: {np.percentile(p_none[is_none], [25, 50, 75]).round(2)}")
    for tau in (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.01):
        use = is_none & (p_none < tau)
        r = np.where(use, forced, greedy)
        print(
            f"tau {tau}: {use.sum():3d} rewritten anyway  R@1 {(r == 0).mean() * 100:.1f}  R@5 {(r < 5).mean() * 100:.1f}  R@10 {(r < 10).mean() * 100:.1f}"
        )


if __name__ == "__main__":
    main()
