"""``raqo data synth | convert | validate``: the embedded benchmark and dataset manifests."""

from __future__ import annotations

import argparse
import json

from raqo_core.cli._common import add_field


def register(sub: argparse._SubParsersAction) -> None:
    from raqo_core.data.synth import SynthConfig

    data = sub.add_parser("data", help="datasets: synth, convert, validate").add_subparsers(dest="data_command", required=True)
    s = data.add_parser("synth", help="render the embedded benchmark")
    s.add_argument("--out", required=True)
    for flag in ("--seed", "--n-train", "--n-val", "--n-test"):
        add_field(s, flag, SynthConfig)
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(func=synth)
    c = data.add_parser("convert", help="convert a dataset into a RAQO manifest")
    c.add_argument("format", choices=["karpathy", "coco", "pairs", "hf"])
    c.add_argument("--input", required=True, help="JSON/CSV/JSONL file, or HF dataset id / save_to_disk folder")
    c.add_argument("--out", required=True)
    c.add_argument("--image-root", default=None, help="folder the input's image paths are relative to")
    c.add_argument("--split", default="test", help="split for coco/pairs(default)/hf")
    c.add_argument("--hf-split", default=None)
    c.add_argument("--image-column", default="image")
    c.add_argument("--caption-column", default="caption")
    c.add_argument("--limit", type=int, default=None)
    c.set_defaults(func=convert)
    v = data.add_parser("validate", help="validate a manifest")
    v.add_argument("data")
    v.add_argument("--decode", action="store_true", help="open every image (catches corrupt files)")
    v.set_defaults(func=validate)


def synth(a: argparse.Namespace) -> int:
    from raqo_core.data.paraphrase import add_paraphrase_register
    from raqo_core.data.synth import SynthConfig, generate

    path = generate(a.out, SynthConfig(seed=a.seed, n_train=a.n_train, n_val=a.n_val, n_test=a.n_test), progress=not a.quiet)
    n = add_paraphrase_register(a.out, a.seed)
    print(f"wrote {path} (with {n} paraphrase-register queries on val and test)")
    return 0


def convert(a: argparse.Namespace) -> int:
    from pathlib import Path

    from raqo_core.data import convert as C

    root = a.image_root or Path(a.input).parent
    if a.format == "karpathy":
        path = C.from_karpathy(a.input, root, a.out)
    elif a.format == "coco":
        path = C.from_coco(a.input, root, a.out, split=a.split)
    elif a.format == "pairs":
        path = C.from_pairs(
            a.input, a.out, image_root=a.image_root, image_column=a.image_column, caption_column=a.caption_column, default_split=a.split
        )
    else:
        path = C.from_hf(
            a.input, a.out, image_column=a.image_column, caption_column=a.caption_column, hf_split=a.hf_split, split=a.split, limit=a.limit
        )
    print(f"wrote {path}")
    return 0


def validate(a: argparse.Namespace) -> int:
    from raqo_core.data.manifest import load_manifest

    m = load_manifest(a.data, check_images="decode" if a.decode else "exists")
    counts = {s: len(m.split(s)) for s in ("train", "val", "test")}
    print(json.dumps({"records": len(m), "splits": counts, "registers": m.registers()}))
    return 0
