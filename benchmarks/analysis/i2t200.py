"""I2T for both shipped adapters on the 200-image set of results/report_i2t200/ (user and transfer captions).

python -m benchmarks.analysis.i2t200 [--out results/recot_vs_direct]   # writes i2t200.{json,md} there
python -m benchmarks.analysis.i2t200 --lookup --backend llamacpp --images 80 --out results/lookup   # + look-up rows

The first 200 test images are the queries; their captions (1,000 user, 400 transfer), each rewritten by
the adapter, are the gallery, as in `raqo report --i2t-images 200`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from raqo_core.data.manifest import load_manifest
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
    args = ap.parse_args(argv)
    out = Path(args.out)
    m = load_manifest(embedded_benchmark_dir(0))
    ret = load_retriever("embedded")
    img = ret.encode_images([m.image_path(r) for r in m.split("test")], progress=False)  # T2I needs the whole gallery

    def build(mode: str = "recot", lookup: str | None = None) -> Any:
        cfg = offline_config(adapter="embedded", backend=args.backend, mode=mode, lookup=lookup)
        return build_rewriter("raqo", cfg, disk_cache=True).load()

    rewriters: dict[str, Any] = {"NA": None, "+RAQO (ReCoT)": build(), "+RAQO direct": build("direct")}
    if args.lookup:
        rewriters["+RAQO (ReCoT)+lookup"] = build(lookup="embedded")
        rewriters["+RAQO direct+lookup"] = build("direct", "embedded")
        rewriters["+lookup alone"] = build_rewriter("lookup")
        rewriters["+WordNetExpansion"] = build_rewriter("wordnet").load()
    rows = {}
    for register in ("user", "transfer"):
        for name, rw in rewriters.items():
            res = evaluate_rewriter(m, ret, rw, register=register, t2i_limit=1, i2t_images=args.images, img_emb=img)
            rows[f"{register}: {name}"] = {"i2t": res["i2t"], "gallery_texts": res["i2t_gallery_texts"]}
            print(register, name, {k: round(v, 1) for k, v in res["i2t"].items()}, flush=True)
    name = "i2t200" if args.images == IMAGES else f"i2t{args.images}"
    atomic_write_json(out / f"{name}.json", {"images": args.images, "backend": args.backend, "rows": rows})
    atomic_write_text(out / f"{name}.md", markdown_table(rows, ("i2t",)) + "\n")


if __name__ == "__main__":
    main()
