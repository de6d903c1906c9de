"""``raqo compare``: rewriters on the same queries, each row minus the first, with paired 95 % intervals."""

from __future__ import annotations

import argparse

from raqo_core.cli._common import add_common, add_eval_args, add_field, set_threads


def register(sub: argparse._SubParsersAction) -> None:
    from raqo_core.rewriter.rewriter import RewriterConfig

    cp = sub.add_parser("compare", help="compare rewriters on the same queries, with paired 95 %% intervals")
    add_eval_args(cp, default="user")
    cp.add_argument(
        "--row",
        action="append",
        required=True,
        help="NAME=ADAPTER[@recot|@ungrounded|@direct][+lookup][#BACKEND], NAME=wordnet|llm-rewrite|visual-description|lookup "
        "or NAME=none (no rewriting); repeat it. The first row is the reference",
    )
    add_field(cp, "--model", RewriterConfig)
    add_field(cp, "--backend", RewriterConfig, help="the engine of rows without #BACKEND")
    add_field(
        cp,
        "--lookup",
        RewriterConfig,
        help="the look-up of +lookup rows: 'auto' = the adapter's own (the shipped adapters: the embedded one), "
        "'embedded' or a `raqo lookup build` folder",
    )
    cp.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples (default: %(default)s)")
    cp.add_argument("--seed", type=int, default=0)
    cp.add_argument("--json", default=None)
    cp.add_argument("--md", default=None, help="write the markdown table here")
    add_common(cp, device=True, quiet=True)
    cp.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    from raqo_core.data.manifest import load_manifest
    from raqo_core.errors import RAQOError
    from raqo_core.evaluation.compare import compare_markdown, compare_specs, parse_row
    from raqo_core.evaluation.evaluate import EvalSetup
    from raqo_core.io import atomic_write_json, atomic_write_text
    from raqo_core.retriever import load_retriever
    from raqo_core.rewriter.factory import config_with

    set_threads(a.threads)
    rows = [parse_row(r) for r in a.row]  # validate every row before loading any model
    names = [row.name for row in rows]
    if len(set(names)) != len(names):
        raise RAQOError(f"row names must be unique, got {names}")
    setup = EvalSetup(split=a.split, register=a.register, limit=a.limit, progress=not a.quiet)
    setup.validate()
    manifest = load_manifest(a.data)
    retriever = load_retriever(a.retriever, device=a.device)
    base = config_with(model=a.model, backend=a.backend, lookup=a.lookup, retriever_fingerprint=retriever.fingerprint)
    res = compare_specs(manifest, retriever, dict(rows), setup, base, n_boot=a.n_boot, seed=a.seed)
    md = compare_markdown(res)
    print(md)
    if a.json:
        atomic_write_json(a.json, res)
        print(f"wrote {a.json}")
    if a.md:
        atomic_write_text(a.md, md + "\n")
        print(f"wrote {a.md}")
    return 0
