"""``raqo report``: the paper's tables on the embedded benchmark (report.json, report.md, report.png)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    from raqo_core.cli._common import add_common

    rp = sub.add_parser("report", help="the paper's tables on the embedded benchmark (JSON, markdown, PNG)")
    rp.add_argument("--config", default=None, help="the training config (a preset name or a YAML file) whose run folder holds the adapters")
    rp.add_argument("--runs", default="runs", help="the folder `raqo train --out` wrote (default: %(default)s)")
    rp.add_argument("--adapter", default=None, help="the RAQO adapter (overrides the config's)")
    rp.add_argument("--data", default=None, help="default: the embedded benchmark")
    rp.add_argument("--retriever", default="embedded")
    rp.add_argument("--limit", type=int, default=None, help="T2I queries to evaluate (default: the config's, else 500)")
    rp.add_argument("--i2t-images", type=int, default=None, help="I2T query images (default: the config's, else 100)")
    rp.add_argument("--no-baselines", action="store_true")
    rp.add_argument(
        "--explain", type=int, default=4, metavar="N", help="attribution figures in the report's gallery (0: none; default: %(default)s)"
    )
    rp.add_argument(
        "--lookup",
        default="auto",
        help="the look-up for the +lookup rows: a `raqo lookup build` folder, 'embedded', 'none'; "
        "'auto' = the full adapter's own (its raqo_adapter.json), else the shipped one for the embedded retriever (default: %(default)s)",
    )
    rp.add_argument("--out", default="results/report", help="output folder, relative to the current directory (default: %(default)s)")
    add_common(rp)
    rp.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    from raqo_core.cli._common import set_threads
    from raqo_core.evaluation.paper_tables import report_from_run

    set_threads(a.threads)
    res = report_from_run(
        config=a.config,
        runs=a.runs,
        adapter=a.adapter,
        data=a.data,
        retriever=a.retriever,
        t2i_limit=a.limit,
        i2t_images=a.i2t_images,
        baselines=not a.no_baselines,
        out=a.out,
        explain=a.explain,
        lookup=None if a.lookup == "none" else a.lookup,
    )
    print((Path(a.out) / "report.md").read_text())
    print(f"wrote {a.out}/report.json, report.md, report.png in {res['seconds']}s")
    return 0
