"""``raqo mpade``: mine the retriever's preferences into D_CCR, D_QRE and D_PRO."""

from __future__ import annotations

import argparse
import json

from raqo_core.cli._common import add_common, add_field, set_threads

OPTIONAL = {"--limit": int, "--queries-per-image": int, "--perturb-ratio": float}  # fields whose default is None
FLAGS = (
    "--split",
    "--register",
    "--rounds",
    "--limit",
    "--queries-per-image",
    "--filter-threshold",
    "--concepts",
    "--perturb-ratio",
    "--seed",
)


def register(sub: argparse._SubParsersAction) -> None:
    from raqo_core.mpade.config import MPADEConfig

    mp = sub.add_parser("mpade", help="mine the retriever's preferences (D_CCR, D_QRE, D_PRO)")
    mp.add_argument("--data", required=True)
    mp.add_argument("--retriever", default="embedded")
    mp.add_argument("--agent", choices=["offline", "chat"], default="offline")
    mp.add_argument("--out", required=True)
    for flag in FLAGS:
        if flag in OPTIONAL:
            add_field(mp, flag, MPADEConfig, type=OPTIONAL[flag])
        else:
            add_field(mp, flag, MPADEConfig)
    mp.add_argument("--no-perturb", dest="perturb", action="store_false", help="no WordNet perturbations of unambiguous queries")
    mp.add_argument("--perturb-exclude", default=None, help="comma-separated words never used as perturbations (e.g. a test split's)")
    mp.add_argument("--endpoint", default=None, help="OpenAI-compatible base URL for --agent chat")
    mp.add_argument("--agent-model", default=None)
    mp.add_argument("--api-key-env", default="OPENAI_API_KEY")
    mp.add_argument("--concurrency", type=int, default=8, help="chat agent: requests in flight at once (default: %(default)s)")
    mp.add_argument("--agent-timeout", type=float, default=60.0, help="chat agent: seconds per request (default: %(default)s)")
    mp.add_argument("--agent-retries", type=int, default=3, help="chat agent: retries after 429/5xx/timeouts (default: %(default)s)")
    add_common(mp, device=True)
    mp.set_defaults(func=run)


def run(a: argparse.Namespace) -> int:
    from raqo_core.data.manifest import load_manifest
    from raqo_core.errors import RAQOError
    from raqo_core.mpade.config import MPADEConfig
    from raqo_core.mpade.engine import run_mpade
    from raqo_core.retriever import load_retriever

    set_threads(a.threads)
    fields_ = {f.lstrip("-").replace("-", "_") for f in FLAGS}
    cfg = MPADEConfig(
        **{k: getattr(a, k) for k in fields_},
        perturb=a.perturb,
        perturb_exclude=[w for w in (a.perturb_exclude or "").split(",") if w.strip()],
    )
    cfg.validate()
    if a.agent == "chat" and (not a.endpoint or not a.agent_model):
        raise RAQOError("--agent chat needs --endpoint URL and --agent-model NAME (an OpenAI-compatible server with image input)")
    manifest = load_manifest(a.data)
    retriever = load_retriever(a.retriever, device=a.device)
    if a.agent == "offline":
        from raqo_core.mpade.agents import OfflineAgent

        agent = OfflineAgent.from_manifest(retriever, manifest)
        meta = run_mpade(manifest, retriever, agent, a.out, cfg, vocabulary=agent.vocab)
    else:
        from raqo_core.mpade.agents import ChatMLLMAgent

        chat = ChatMLLMAgent(
            a.endpoint,
            a.agent_model,
            api_key_env=a.api_key_env,
            concurrency=a.concurrency,
            timeout_s=a.agent_timeout,
            max_retries=a.agent_retries,
        )
        meta = run_mpade(manifest, retriever, chat, a.out, cfg)
    print(json.dumps({k: meta[k] for k in ("labels", "counts", "accepted_rewrites_per_ambiguous_query", "timings") if k in meta}, indent=2))
    print(f"wrote {a.out}/D_CCR.jsonl, D_QRE.jsonl, D_PRO.jsonl, meta.json, report.md")
    return 0
