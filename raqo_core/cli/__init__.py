"""The ``raqo`` command: parsing and dispatch only; each command is one module of this package.

raqo demo                          the main job: embedded benchmark, retriever, NA-vs-RAQO table
raqo data synth|convert|validate   the embedded benchmark; karpathy | coco | pairs | hf → manifest.jsonl
raqo retriever train|info          train an open_clip model on a manifest; spec, fingerprint, dimension
raqo eval                          Recall@1/5/10 for T2I and I2T, optionally behind a rewriter
raqo compare --row NAME=SPEC …     rewriters on the same queries, each row minus the first, 95 % intervals
raqo rewrite "QUERY" …             rewrite queries with RAQO (or a baseline)
raqo export-onnx | export-rewriter ONNX encoders; merged HF, GGUF and LoRA rewriters
raqo mpade                         mine D_CCR, D_QRE, D_PRO for a retriever
raqo lookup build|show             the retriever look-up: its vocabulary and MPADE's lexicon; what it does to a query
raqo train --config PRESET         MPADE → CCD-SFT → QRE-SFT → PRO
raqo report                        the paper's tables (JSON, markdown, PNG)

A new command is one module with ``register(subparsers)`` (its parser, ``set_defaults(func=run)``)
plus its name in :data:`COMMANDS`. Modules import heavy libraries inside ``run``, so ``raqo --help`` is instant.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import time
from collections.abc import Sequence

from raqo_core.errors import RAQOError

COMMANDS = (
    "demo",
    "data",
    "retriever",
    "evaluate",
    "compare",
    "rewrite",
    "explain",
    "export",
    "mpade",
    "preferences",
    "lookup",
    "train",
    "report",
)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("raqo")
    except PackageNotFoundError:  # a source tree that was never installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="raqo", description="Retriever-adaptive query optimisation for vision-language retrieval.")
    p.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    p.add_argument("--version", action="version", version=f"raqo {_version()}")
    sub = p.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from raqo_core.training.distributed import rank_log_format  # light: no torch; "[rank R/W]" under a launcher

    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format=rank_log_format())
    t0 = time.time()
    try:
        rc: int = args.func(args)
    except RAQOError as exc:
        print(f"raqo: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a full disk, a permission, a missing file: the system's one line, naming the path
        print(f"raqo: error: {exc}", file=sys.stderr)
        return 2
    except ImportError as exc:  # a missing optional dependency: one line naming the extra to install
        from raqo_core.extras import install_hint

        print(f"raqo: error: {exc}; {install_hint(exc.name)}", file=sys.stderr)
        return 2
    logging.getLogger("raqo").info("done in %.1fs", time.time() - t0)
    return rc
