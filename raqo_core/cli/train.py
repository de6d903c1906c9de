"""``raqo train``: MPADE → CCD-SFT → QRE-SFT → PRO, a LoRA adapter for your retriever."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    tr = sub.add_parser("train", help="MPADE → CCD-SFT → QRE-SFT → PRO: a LoRA adapter for your retriever")
    tr.add_argument("--config", required=True, help="a preset shipped with the package (quick, embedded, paper) or a YAML file")
    tr.add_argument("--out", default="runs", help="run folders go here (default: %(default)s)")
    tr.add_argument("--ablations", action="store_true", help="also train Table 4's ablation variants")
    tr.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: the config's)")
    tr.add_argument(
        "--dry-run", action="store_true", help="check the config, data, base model and retriever (no weights loaded) and print the plan"
    )
    tr.add_argument(
        "--processes",
        type=int,
        default=None,
        help="with --dry-run: plan for this many processes (accelerate launch --num_processes; default: this launch's)",
    )
    tr.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    from raqo_core.cli._common import set_threads
    from raqo_core.training.pipeline import TrainConfig, train_variants

    if a.dry_run:
        from raqo_core.training.plan import format_plan, plan_training

        cfg = TrainConfig.from_yaml(a.config, validate=False)
        plan = plan_training(cfg, a.out, processes=a.processes)
        print(format_plan(plan, cfg))
        return 0 if plan.ok else 2
    cfg = TrainConfig.from_yaml(a.config)
    set_threads(a.threads or cfg.threads)
    results = train_variants(cfg, a.out, with_ablations=a.ablations)
    from raqo_core.training.distributed import process_info

    if process_info().is_main:  # under a launcher, one summary
        print(json.dumps({v: {"adapter": r["adapter"], "seconds": r["seconds"]} for v, r in results.items()}, indent=2))
    return 0
