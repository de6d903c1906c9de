"""What the command modules share: argument helpers whose defaults and help come from the config dataclasses."""

from __future__ import annotations

import argparse
import os
from dataclasses import MISSING, fields
from typing import Any

UNGROUNDED_HELP = "let the Concepts: line name words that are not in the query"


def set_threads(n: int | None) -> None:
    import torch

    torch.set_num_threads(n or max(1, min(os.cpu_count() or 1, 8)))


def field_default(cls: type, name: str) -> Any:
    f = {f.name: f for f in fields(cls)}[name]
    if f.default is not MISSING:
        return f.default
    return f.default_factory() if f.default_factory is not MISSING else None


def add_field(p: argparse.ArgumentParser, flag: str, cls: type, name: str | None = None, **kw: Any) -> None:
    """``--flag`` for the dataclass field ``cls.name`` (default: the flag's name), with the field's default and help."""
    name = name or flag.lstrip("-").replace("-", "_")
    f = {f.name: f for f in fields(cls)}[name]
    default = kw.pop("default", field_default(cls, name))
    if "type" not in kw and "action" not in kw and isinstance(default, (int, float, str)) and not isinstance(default, bool):
        kw["type"] = type(default)
    help_ = str(kw.pop("help", None) or f.metadata.get("help") or name).replace("%", "%%")
    if kw.get("action") not in ("store_true", "store_false"):
        help_ += " (default: %(default)s)"
    p.add_argument(flag, default=default, help=help_, **kw)


def add_rewriter_args(p: argparse.ArgumentParser, *, backend_default: str | None = None) -> None:
    """The rewriter flags shared by eval/compare/rewrite: base model, adapter, mode, grounding, engine."""
    from raqo_core.rewriter.rewriter import RewriterConfig

    add_field(p, "--model", RewriterConfig)
    add_field(
        p,
        "--adapter",
        RewriterConfig,
        help="LoRA adapter folder or hub id; 'auto' = the shipped embedded adapter for --mode; 'none' = the base alone",
    )
    add_field(p, "--mode", RewriterConfig, choices=["recot", "direct", "detect"])
    p.add_argument("--ungrounded", action="store_true", help=UNGROUNDED_HELP)
    add_field(p, "--backend", RewriterConfig, **({"default": backend_default} if backend_default else {}))
    add_field(p, "--lookup", RewriterConfig)


def rewriter_config(a: argparse.Namespace, **extra: Any) -> Any:
    """The :class:`RewriterConfig` the rewriter flags describe (plus ``extra`` fields)."""
    from raqo_core.rewriter.factory import config_with

    adapter = None if (a.adapter or "").lower() in ("", "none") else a.adapter
    return config_with(
        model=a.model,
        adapter=adapter,
        mode=a.mode,
        grounded_concepts=not a.ungrounded,
        backend=a.backend,
        lookup=getattr(a, "lookup", None),
        **extra,
    )


def add_common(p: argparse.ArgumentParser, *, device: bool = False, quiet: bool = False) -> None:
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: all cores, at most 8)")
    if device:
        p.add_argument("--device", default="cpu", help="torch device for the retriever (default: cpu)")
    if quiet:
        p.add_argument("--quiet", action="store_true", help="no progress bars")


def add_eval_args(p: argparse.ArgumentParser, **register: Any) -> None:
    """What to evaluate: ``--data``, ``--retriever`` and the :class:`EvalSetup` fields (``register``: overrides for ``--register``)."""
    from raqo_core.evaluation.evaluate import EvalSetup

    p.add_argument("--data", required=True, help="a dataset folder (manifest.jsonl)")
    p.add_argument("--retriever", default="embedded", help="a retriever spec (default: %(default)s)")
    add_field(p, "--split", EvalSetup)
    add_field(p, "--register", EvalSetup, **register)
    add_field(p, "--limit", EvalSetup, type=int)
