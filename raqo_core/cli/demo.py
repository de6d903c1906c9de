"""``raqo demo``: the main job — the embedded benchmark, its retriever, NA vs RAQO (demo.json, demo.md, demo.png)."""

from __future__ import annotations

import argparse
from pathlib import Path

from raqo_core.cli._common import add_common


def register(sub: argparse._SubParsersAction) -> None:
    from raqo_core.rewriter.rewriter import config_help

    d = sub.add_parser("demo", help="run the embedded demo (the main job)")
    d.add_argument(
        "--out",
        default="results/demo",
        help="folder for demo.json, demo.md and demo.png, relative to the current directory (default: %(default)s)",
    )
    d.add_argument("--data", default=None, help="embedded benchmark folder (default: rendered into the cache)")
    d.add_argument("--limit", type=int, default=None, help="evaluate the first N queries per direction")
    d.add_argument(
        "--backend",
        default="auto",
        help=config_help("backend") + "; auto (the demo's default): llamacpp when llama-cpp-python is installed, else hf",
    )
    add_common(d)
    d.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    from raqo_core.demo import run_demo

    run_demo(out=Path(a.out), data=a.data, limit=a.limit, threads=a.threads, backend=a.backend)
    return 0
