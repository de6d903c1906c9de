"""I2T for both shipped adapters on the 200-image set of results/report_i2t200/ (user and transfer captions).

python -m benchmarks.analysis.i2t200 [--out results/recot_vs_direct]   # writes i2t200.{json,md} there
python -m benchmarks.analysis.i2t200 --lookup --backend llamacpp --images 80 --out results/lookup   # + look-up rows
python -m benchmarks.analysis.i2t200 --lookup --baselines --backend llamacpp --images 200 --out results/lookup/lexicon_weak \
    --rows "+RAQO (ReCoT)+lookup" "+lookup alone" +WordNetExpansion +LLMRewrite +VisualDescriptionAppend
    # + the LM baselines (transformers, zero-shot base), each row paired with NA and with the best baseline
python -m benchmarks.analysis.i2t200 --lookup --backend llamacpp --out results/lookup/gloss \
    --rows "+RAQO (ReCoT)+lookup" "+RAQO direct+lookup" "+lookup alone"   # the rows alone, paired with NA

The first 200 test images are the queries; their captions (1,000 user, 400 transfer), each rewritten by
the adapter, are the gallery, as in `raqo report --i2t-images 200`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from raqo_core.data.manifest import load_manifest
from raqo_core.evaluation.paired import paired_bootstrap
from raqo_core.evaluation.paper_tables import evaluate_rewriter
from raqo_core.evaluation.report import markdown_table
from raqo_core.io import atomic_write_json, atomic_write_text
from raqo_core.paths import embedded_benchmark_dir
from raqo_core.retriever.registry import load_retriever
from raqo_core.rewriter.factory import build_rewriter, offline_config

IMAGES = 200


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="results/recot_vs_direct", help="folder for i2t200.json and i2t200.md")
    ap.add_argument("--backend", default="hf", help="the rewriter engine (default: %(default)s)")
    ap.add_argument("--lookup", action="store_true", help="add +lookup rows, the look-up alone and WordNet expansion")
    ap.add_argument("--images", type=int, default=IMAGES, help="query images (default: %(default)s)")
    ap.add_argument("--baselines", action="store_true", help="add the LM baselines (LLMRewrite, VisualDescriptionAppend) and paired deltas")
    ap.add_argument("--rows", nargs="+", default=None, help="only these rows (NA always runs; default: every row the flags add)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    m = load_manifest(embedded_benchmark_dir(0))
    ret = load_retriever("embedded")
    img = ret.encode_images([m.image_path(r) for r in m.split("test")], progress=False)  # T2I needs the whole gallery

    def build(mode: str = "recot", lookup: str | None = None) -> Any:
        cfg = offline_config(adapter="embedded", backend=args.backend, mode=mode, lookup=lookup)
        return build_rewriter("raqo", cfg, disk_cache=True).load()

    builders: dict[str, Any] = {"NA": lambda: None, "+RAQO (ReCoT)": build, "+RAQO direct": lambda: build("direct")}
    if args.lookup:
        builders["+RAQO (ReCoT)+lookup"] = lambda: build(lookup="embedded")
        builders["+RAQO direct+lookup"] = lambda: build("direct", "embedded")
        builders["+lookup alone"] = lambda: build_rewriter("lookup")
        builders["+WordNetExpansion"] = lambda: build_rewriter("wordnet").load()
    baselines = ("+LLMRewrite", "+VisualDescriptionAppend") if args.baselines else ()
    for label, name in zip(baselines, ("llm-rewrite", "visual-description"), strict=False):
        builders[label] = lambda name=name: build_rewriter(name, offline_config(), disk_cache=True).load()
    unknown = sorted(set(args.rows or ()) - set(builders))
    if unknown:
        raise SystemExit(f"--rows: unknown row(s) {unknown}; expected some of {list(builders)}")
    rewriters = {k: f() for k, f in builders.items() if not args.rows or k in args.rows or k == "NA"}
    baselines = tuple(b for b in baselines if b in rewriters)
    rows: dict[str, Any] = {}
    ranks: dict[str, np.ndarray] = {}
    for register in ("user", "transfer"):
        for name, rw in rewriters.items():
            res = evaluate_rewriter(m, ret, rw, register=register, t2i_limit=1, i2t_images=args.images, img_emb=img)
            rows[f"{register}: {name}"] = {"i2t": res["i2t"], "gallery_texts": res["i2t_gallery_texts"], "ranks": list(res["i2t_ranks"])}
            ranks[f"{register}: {name}"] = np.asarray(res["i2t_ranks"])
            print(register, name, {k: round(v, 1) for k, v in res["i2t"].items()}, flush=True)
    lines = [markdown_table({k: {"i2t": v["i2t"]} for k, v in rows.items()}, ("i2t",))]
    if baselines or args.rows:
        lines += ["", *paired_lines(rows, ranks, [b for b in (*baselines, "+WordNetExpansion") if b in rewriters])]
    name = "i2t200" if args.images == IMAGES else f"i2t{args.images}"
    atomic_write_json(out / f"{name}.json", {"images": args.images, "backend": args.backend, "rows": rows})
    atomic_write_text(out / f"{name}.md", "\n".join(lines) + "\n")


def paired_lines(rows: dict[str, Any], ranks: dict[str, np.ndarray], baselines: list[str]) -> list[str]:
    """Each row's I2T R@1 paired with NA and with the register's best baseline (the same query images); with no
    baseline, with NA alone."""
    if not baselines:
        out = ["| register: row | I2T R@1 | Δ vs NA [95 % CI] |", "|---|---|---|"]
        for key, r in ranks.items():
            if not key.endswith(": NA"):
                d = paired_bootstrap(r, ranks[key.split(": ")[0] + ": NA"], k=1)
                out.append(
                    f"| {key} | {rows[key]['i2t']['R@1']:.1f} | {d.delta:+.1f} [{d.low:+.1f}, {d.high:+.1f}] ({d.a_only} vs {d.b_only}) |"
                )
        return out
    out = ["| register: row | I2T R@1 | Δ vs NA [95 % CI] | Δ vs best baseline [95 % CI] |", "|---|---|---|---|"]
    for register in ("user", "transfer"):
        best = max(baselines, key=lambda b: rows[f"{register}: {b}"]["i2t"]["R@1"])
        for key, r in ranks.items():
            if not key.startswith(f"{register}: ") or key == f"{register}: NA":
                continue
            cells = []
            for ref in ("NA", best):
                if key == f"{register}: {ref}":
                    cells.append("—")
                    continue
                d = paired_bootstrap(r, ranks[f"{register}: {ref}"], k=1)
                cells.append(f"{d.delta:+.1f} [{d.low:+.1f}, {d.high:+.1f}] ({d.a_only} vs {d.b_only})")
            out.append(f"| {key} | {rows[key]['i2t']['R@1']:.1f} | {cells[0]} | {cells[1]} ({best.lstrip('+')}) |")
    return out


if __name__ == "__main__":
    main()
