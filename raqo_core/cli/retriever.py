"""``raqo retriever train | info``."""

from __future__ import annotations

import argparse
import json

from raqo_core.cli._common import add_field


def register(sub: argparse._SubParsersAction) -> None:
    from raqo_core.retriever.embedded import RetrieverTrainConfig

    r = sub.add_parser("retriever", help="retrievers: train, info").add_subparsers(dest="retriever_command", required=True)
    t = r.add_parser("train", help="train an open_clip model on a manifest's train split")
    t.add_argument("--data", required=True)
    t.add_argument("--out", required=True)
    for flag in ("--model", "--epochs", "--batch-size", "--seed", "--threads"):
        add_field(t, flag, RetrieverTrainConfig)
    t.set_defaults(func=train)
    i = r.add_parser("info", help="print a retriever's spec, fingerprint and dimension")
    i.add_argument("spec")
    i.add_argument("--device", default="cpu")
    i.set_defaults(func=info)


def train(a: argparse.Namespace) -> int:
    from raqo_core.retriever.embedded import RetrieverTrainConfig, train_retriever

    cfg = RetrieverTrainConfig(model=a.model, epochs=a.epochs, seed=a.seed, batch_size=a.batch_size, threads=a.threads)
    print(json.dumps(train_retriever(a.data, a.out, cfg), indent=2))
    return 0


def info(a: argparse.Namespace) -> int:
    from raqo_core.retriever import load_retriever

    r = load_retriever(a.spec, device=a.device)
    print(json.dumps({"spec": r.spec, "fingerprint": r.fingerprint, "dim": r.dim}))
    return 0
