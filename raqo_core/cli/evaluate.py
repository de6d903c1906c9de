"""``raqo eval``: Recall@1/5/10 for T2I and I2T, optionally after a rewriter."""

from __future__ import annotations

import argparse

from raqo_core.cli._common import add_common, add_eval_args, add_rewriter_args, rewriter_config, set_threads


def register(sub: argparse._SubParsersAction) -> None:
    e = sub.add_parser("eval", help="Recall@1/5/10 for T2I and I2T")
    add_eval_args(e, help="caption register: captions/plain, user, transfer, oracle …")
    e.add_argument("--json", default=None, help="write the results JSON here")
    e.add_argument(
        "--rewriter",
        default=None,
        help="rewrite T2I queries (and the I2T text gallery) first: raqo, llm-rewrite, wordnet, visual-description, lookup",
    )
    add_rewriter_args(e)
    e.add_argument("--no-gallery-rewrite", action="store_true", help="leave the I2T caption gallery as it is")
    add_common(e, device=True, quiet=True)
    e.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    from raqo_core.data.manifest import load_manifest
    from raqo_core.evaluation.evaluate import EvalSetup, evaluate_run
    from raqo_core.evaluation.report import markdown_table
    from raqo_core.io import atomic_write_json
    from raqo_core.retriever import load_retriever

    set_threads(a.threads)
    setup = EvalSetup(split=a.split, register=a.register, limit=a.limit, progress=not a.quiet)
    setup.validate()
    manifest = load_manifest(a.data)  # validate the data before loading a model
    retriever = load_retriever(a.retriever, device=a.device)
    config = rewriter_config(a, retriever_fingerprint=retriever.fingerprint) if a.rewriter else None
    label, res = evaluate_run(manifest, retriever, setup, a.rewriter, config, rewrite_gallery=not a.no_gallery_rewrite)
    print(markdown_table({label: res}))
    if a.json:
        atomic_write_json(a.json, res)
        print(f"wrote {a.json}")
    return 0
