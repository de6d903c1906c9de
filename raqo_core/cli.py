"""The ``raqo`` command.

raqo demo                          the main job: embedded benchmark, retriever, plain-vs-user table
raqo data synth --out DIR          render the embedded benchmark
raqo data convert FORMAT ...       karpathy | coco | pairs | hf  → manifest.jsonl
raqo data validate DIR             check a manifest (and optionally decode every image)
raqo retriever train ...           train an open_clip model on a manifest (the embedded recipe)
raqo retriever info SPEC           spec, fingerprint, dimension
raqo eval --data DIR --retriever SPEC [--register user] [--limit N] [--json OUT]
          [--rewriter raqo|llm-rewrite|wordnet|visual-description --model M --adapter DIR]
raqo compare --data DIR --split test --register user --limit N --row REF=none --row NEW=ADAPTER[@direct]
          [--json OUT] [--md OUT]  each row minus the first, per query, with 95 % intervals
raqo rewrite "a crimson orb beside a cube" [--model M] [--adapter DIR] [--mode recot] [--json]
raqo export-onnx --retriever SPEC --out DIR [--fp16] [--int8]
raqo export-rewriter --adapter DIR --out DIR [--format hf,gguf,lora] [--gguf-type f16,q8_0]
raqo mpade --data DIR --retriever SPEC --agent offline|chat --out DIR [--limit N] [--register user]
raqo train --config training/configs/embedded.yaml [--ablations]
raqo report --config training/configs/embedded.yaml [--limit N]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from raqo_core.errors import RAQOError


def _threads(n: int | None) -> None:
    import torch

    torch.set_num_threads(n or max(1, min(os.cpu_count() or 1, 8)))


def _cmd_synth(a: argparse.Namespace) -> int:
    from raqo_core.data.synth import SynthConfig, generate

    cfg = SynthConfig(seed=a.seed, n_train=a.n_train, n_val=a.n_val, n_test=a.n_test)
    path = generate(a.out, cfg, progress=not a.quiet)
    print(f"wrote {path}")
    return 0


def _cmd_convert(a: argparse.Namespace) -> int:
    from raqo_core.data import convert

    if a.format == "karpathy":
        path = convert.from_karpathy(a.input, a.image_root or Path(a.input).parent, a.out)
    elif a.format == "coco":
        path = convert.from_coco(a.input, a.image_root or Path(a.input).parent, a.out, split=a.split)
    elif a.format == "pairs":
        path = convert.from_pairs(
            a.input, a.out, image_root=a.image_root, image_column=a.image_column, caption_column=a.caption_column, default_split=a.split
        )
    else:
        path = convert.from_hf(
            a.input, a.out, image_column=a.image_column, caption_column=a.caption_column, hf_split=a.hf_split, split=a.split, limit=a.limit
        )
    print(f"wrote {path}")
    return 0


def _cmd_validate(a: argparse.Namespace) -> int:
    from raqo_core.data.manifest import load_manifest

    m = load_manifest(a.data, check_images="decode" if a.decode else "exists")
    counts = {s: len(m.split(s)) for s in ("train", "val", "test")}
    print(json.dumps({"records": len(m), "splits": counts, "registers": m.registers()}))
    return 0


def _cmd_retriever_train(a: argparse.Namespace) -> int:
    from raqo_core.retriever.embedded import RetrieverTrainConfig, train_retriever

    recipe = train_retriever(
        a.data, a.out, RetrieverTrainConfig(model=a.model, epochs=a.epochs, seed=a.seed, batch_size=a.batch_size, threads=a.threads or 2)
    )
    print(json.dumps(recipe, indent=2))
    return 0


def _cmd_retriever_info(a: argparse.Namespace) -> int:
    from raqo_core.retriever.base import load_retriever

    r = load_retriever(a.spec, device=a.device)
    print(json.dumps({"spec": r.spec, "fingerprint": r.fingerprint, "dim": r.dim}))
    return 0


def _cmd_eval(a: argparse.Namespace) -> int:
    from raqo_core.data.manifest import load_manifest
    from raqo_core.evaluation.evaluate import EvalSetup, evaluate
    from raqo_core.evaluation.report import markdown_table
    from raqo_core.io import atomic_write_json
    from raqo_core.retriever.base import load_retriever

    _threads(a.threads)
    manifest = load_manifest(a.data)  # validate the data before loading a model
    retriever = load_retriever(a.retriever, device=a.device)
    hooks: dict[str, Any] = {}
    label = f"{retriever.spec} [{a.register}]"
    if a.rewriter:
        from raqo_core.rewriter.disk_cache import DiskCachedRewriter
        from raqo_core.rewriter.factory import build_rewriter

        rw = DiskCachedRewriter(
            build_rewriter(
                a.rewriter,
                model=a.model,
                adapter=a.adapter,
                mode=a.mode,
                retriever_fingerprint=retriever.fingerprint,
                timeout_s=None,
                grounded_concepts=not a.ungrounded,
                backend=a.backend,
            )
            if a.rewriter == "raqo"
            else build_rewriter(a.rewriter, model=a.model, timeout_s=None)
        ).load()
        hooks = {"rewrite_queries": rw.as_text_map(), "rewrite_gallery": None if a.no_gallery_rewrite else rw.as_text_map()}
        label += f" + {a.rewriter}"
    res = evaluate(manifest, retriever, EvalSetup(split=a.split, register=a.register, limit=a.limit, progress=not a.quiet), **hooks)
    res.pop("t2i_ranks")
    if a.rewriter:
        res["rewriter"] = {
            "name": a.rewriter,
            "model": a.model,
            "adapter": a.adapter,
            "mode": a.mode,
            "grounded": not a.ungrounded,
            "backend": a.backend,
        }
    print(markdown_table({label: res}))
    if a.json:
        atomic_write_json(a.json, res)
        print(f"wrote {a.json}")
    return 0


def _cmd_compare(a: argparse.Namespace) -> int:
    from raqo_core.data.manifest import load_manifest
    from raqo_core.evaluation.compare import compare_markdown, compare_rewriters, parse_row
    from raqo_core.evaluation.evaluate import EvalSetup
    from raqo_core.io import atomic_write_json, atomic_write_text
    from raqo_core.retriever.base import load_retriever

    _threads(a.threads)
    specs = [parse_row(r) for r in a.row]  # validate every row before loading any model
    names = [row.name for row in specs]
    if len(set(names)) != len(names):
        raise RAQOError(f"row names must be unique, got {names}")
    setup = EvalSetup(split=a.split, register=a.register, limit=a.limit, progress=not a.quiet)
    setup.validate()
    manifest = load_manifest(a.data)
    retriever = load_retriever(a.retriever, device=a.device)
    rows: dict[str, Any] = {}
    for name, adapter, mode, backend in specs:
        if adapter is None:
            rows[name] = None
            continue
        from raqo_core.evaluation.compare import BASELINES
        from raqo_core.rewriter.disk_cache import DiskCachedRewriter
        from raqo_core.rewriter.factory import build_rewriter

        if adapter in BASELINES:
            inner = build_rewriter(adapter, model=a.model, timeout_s=None)
        else:
            inner = build_rewriter(
                "raqo",
                model=a.model,
                adapter=adapter,
                mode="recot" if mode == "ungrounded" else mode,
                grounded_concepts=mode != "ungrounded",
                retriever_fingerprint=retriever.fingerprint,
                timeout_s=None,
                backend=backend or a.backend,
            )
        rows[name] = DiskCachedRewriter(inner).load().as_text_map()
    res = compare_rewriters(manifest, retriever, rows, setup, n_boot=a.n_boot, seed=a.seed)
    from raqo_core.evaluation.compare import BASELINES

    res["rows"] = {
        n: {"adapter": ad, "mode": mo, "backend": be or (a.backend if ad and ad not in BASELINES else None)} for n, ad, mo, be in specs
    }
    md = compare_markdown(res)
    print(md)
    if a.json:
        atomic_write_json(a.json, res)
        print(f"wrote {a.json}")
    if a.md:
        atomic_write_text(a.md, md + "\n")
        print(f"wrote {a.md}")
    return 0


def _cmd_rewrite(a: argparse.Namespace) -> int:
    from raqo_core.rewriter.factory import build_rewriter

    _threads(a.threads)
    kwargs: dict[str, Any] = (
        {"adapter": a.adapter, "mode": a.mode, "grounded_concepts": not a.ungrounded, "backend": a.backend} if a.rewriter == "raqo" else {}
    )
    rw = build_rewriter(a.rewriter, model=a.model, **kwargs).load()
    results = rw.rewrite_batch(a.query)
    if a.json:
        print(json.dumps([r.to_dict() for r in results], ensure_ascii=False, indent=2))
        return 0
    for r in results:
        print(f"query:    {r.original_query}")
        print(f"concepts: {', '.join(r.concepts) if r.concepts else 'None'}")
        print(f"rewrite:  {r.rewritten_query}")
        print(f"applied:  {r.applied} ({r.reason})")
        print(f"latency:  {r.latency_ms:.0f} ms")
    return 0


def _cmd_export_onnx(a: argparse.Namespace) -> int:
    from raqo_core.retriever.onnx_export import export_onnx

    _threads(a.threads)
    manifest = export_onnx(a.retriever, a.out, fp16=a.fp16, int8=a.int8, prefer_dynamo=not a.legacy)
    print(json.dumps(manifest, indent=2))
    print(f"wrote {a.out} (use it as --retriever onnx:{a.out})")
    return 0


def _cmd_export_rewriter(a: argparse.Namespace) -> int:
    from raqo_core.rewriter.export import ExportSource, export_rewriter

    _threads(a.threads)
    formats = [f.strip() for f in a.format.split(",") if f.strip()]
    types = [t.strip() for t in a.gguf_type.split(",") if t.strip()]
    adapter = None if a.adapter.lower() == "none" else a.adapter  # none: the base model alone (e.g. to serve a LoRA on)
    written = export_rewriter(ExportSource(a.model, adapter, a.mode), a.out, formats, gguf_types=types, tokenizer_gguf=a.tokenizer_gguf)
    print(json.dumps(written, indent=2))
    return 0


def _cmd_mpade(a: argparse.Namespace) -> int:
    from raqo_core.data.manifest import load_manifest
    from raqo_core.mpade.config import MPADEConfig
    from raqo_core.mpade.engine import run_mpade
    from raqo_core.retriever.base import load_retriever

    _threads(a.threads)
    cfg = MPADEConfig(
        split=a.split,
        register=a.register,
        rounds=a.rounds,
        limit=a.limit,
        queries_per_image=a.queries_per_image,
        filter_threshold=a.filter_threshold,
        concepts=a.concepts,
        perturb=a.perturb,
        perturb_ratio=a.perturb_ratio,
        perturb_exclude=[w for w in (a.perturb_exclude or "").split(",") if w.strip()],
        seed=a.seed,
    )
    cfg.validate()
    manifest = load_manifest(a.data)
    retriever = load_retriever(a.retriever, device=a.device)
    if a.agent == "offline":
        from raqo_core.mpade.agents import OfflineAgent

        agent = OfflineAgent.from_manifest(retriever, manifest)
        meta = run_mpade(manifest, retriever, agent, a.out, cfg, vocabulary=agent.vocab)
    else:
        from raqo_core.mpade.agents import ChatMLLMAgent

        if not a.endpoint or not a.agent_model:
            raise RAQOError("--agent chat needs --endpoint URL and --agent-model NAME (an OpenAI-compatible server with image input)")
        agent = ChatMLLMAgent(a.endpoint, a.agent_model, api_key_env=a.api_key_env, concurrency=a.concurrency)  # type: ignore[assignment]
        meta = run_mpade(manifest, retriever, agent, a.out, cfg)
    print(json.dumps({k: meta[k] for k in ("labels", "counts", "accepted_rewrites_per_ambiguous_query", "timings") if k in meta}, indent=2))
    print(f"wrote {a.out}/D_CCR.jsonl, D_QRE.jsonl, D_PRO.jsonl, meta.json, report.md")
    return 0


def _cmd_train(a: argparse.Namespace) -> int:
    from raqo_core.training.pipeline import ABLATIONS, TrainConfig, run_training

    cfg = TrainConfig.from_yaml(a.config)
    _threads(a.threads or cfg.threads)
    variants = list(ABLATIONS) if a.ablations else ["full"]
    results = {}
    for v in variants:
        spec = ABLATIONS[v]
        run_cfg = cfg if v == "full" else TrainConfig(**{**cfg.__dict__, "mode": spec["mode"], "stages": spec["stages"]})
        results[v] = run_training(run_cfg, a.out, publish=v == "full")
    print(json.dumps({v: {"adapter": r["adapter"], "seconds": r["seconds"]} for v, r in results.items()}, indent=2))
    return 0


def _cmd_report(a: argparse.Namespace) -> int:
    from raqo_core.evaluation.paper_tables import run_report
    from raqo_core.paths import embedded_benchmark_dir
    from raqo_core.retriever.base import load_retriever
    from raqo_core.training.pipeline import ABLATIONS, TrainConfig, chain_name

    _threads(a.threads)
    adapters: dict[str, str] = {}
    t2i, i2t = a.limit, a.i2t_images
    if a.config:
        cfg = TrainConfig.from_yaml(a.config)
        t2i = t2i or cfg.eval.get("t2i_limit")
        i2t = i2t or cfg.eval.get("i2t_images")
        run = Path(a.runs) / cfg.name
        for v, spec in ABLATIONS.items():
            d = run / chain_name(spec["mode"], spec["stages"]) / "adapter"
            if (d / "adapter_config.json").is_file():
                adapters[v] = str(d)  # the chain's own stage adapter ("full": the same weights as <run>/adapter)
    if a.adapter:
        adapters["full"] = a.adapter
    data = a.data or str(embedded_benchmark_dir(0))
    res = run_report(
        data=data,
        retriever=load_retriever(a.retriever),
        adapters=adapters,
        out=a.out,
        t2i_limit=t2i or 500,
        i2t_images=i2t or 100,
        baselines=not a.no_baselines,
    )
    print((Path(a.out) / "report.md").read_text())
    print(f"wrote {a.out}/report.json, report.md, report.png in {res['seconds']}s")
    return 0


def _cmd_demo(a: argparse.Namespace) -> int:
    from raqo_core.demo import run_demo

    run_demo(out=Path(a.out), data=a.data, limit=a.limit, threads=a.threads, backend=a.backend)
    return 0


UNGROUNDED_HELP = "let the Concepts: line name words that are not in the query"


def _backend_arg(p: argparse.ArgumentParser, default: str | None = None, extra: str = "") -> None:
    from raqo_core.rewriter.rewriter import RewriterConfig, config_help

    p.add_argument("--backend", default=default or RewriterConfig.backend, help=config_help("backend") + extra)


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

    d = sub.add_parser("demo", help="run the embedded demo (the main job)")
    d.add_argument("--out", default="results/demo", help="folder for demo.json, demo.md and demo.png")
    d.add_argument("--data", default=None, help="embedded benchmark folder (default: rendered into the cache)")
    d.add_argument("--limit", type=int, default=None, help="evaluate the first N queries per direction")
    d.add_argument("--threads", type=int, default=None)
    _backend_arg(d, "auto", "; auto (the demo's default): llamacpp when llama-cpp-python is installed, else hf")
    d.set_defaults(func=_cmd_demo)

    data = sub.add_parser("data", help="datasets: synth, convert, validate").add_subparsers(dest="data_command", required=True)
    s = data.add_parser("synth", help="render the embedded benchmark")
    s.add_argument("--out", required=True)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--n-train", type=int, default=6000)
    s.add_argument("--n-val", type=int, default=500)
    s.add_argument("--n-test", type=int, default=1000)
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(func=_cmd_synth)
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
    c.set_defaults(func=_cmd_convert)
    v = data.add_parser("validate", help="validate a manifest")
    v.add_argument("data")
    v.add_argument("--decode", action="store_true", help="open every image (catches corrupt files)")
    v.set_defaults(func=_cmd_validate)

    r = sub.add_parser("retriever", help="retrievers: train, info").add_subparsers(dest="retriever_command", required=True)
    t = r.add_parser("train", help="train an open_clip model on a manifest's train split")
    t.add_argument("--data", required=True)
    t.add_argument("--out", required=True)
    t.add_argument("--model", default="RAQO-Tiny-64")
    t.add_argument("--epochs", type=int, default=10)
    t.add_argument("--batch-size", type=int, default=128)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--threads", type=int, default=None)
    t.set_defaults(func=_cmd_retriever_train)
    i = r.add_parser("info", help="print a retriever's spec, fingerprint and dimension")
    i.add_argument("spec")
    i.add_argument("--device", default="cpu")
    i.set_defaults(func=_cmd_retriever_info)

    e = sub.add_parser("eval", help="Recall@1/5/10 for T2I and I2T")
    e.add_argument("--data", required=True)
    e.add_argument("--retriever", default="embedded")
    e.add_argument("--split", default="test")
    e.add_argument("--register", default="captions", help="caption register: captions/plain, user, transfer, oracle …")
    e.add_argument("--limit", type=int, default=None)
    e.add_argument("--json", default=None, help="write the results JSON here")
    e.add_argument("--device", default="cpu")
    e.add_argument("--threads", type=int, default=None)
    e.add_argument("--quiet", action="store_true")
    e.add_argument(
        "--rewriter",
        default=None,
        help="rewrite T2I queries (and the I2T text gallery) first: raqo, llm-rewrite, wordnet, visual-description",
    )
    e.add_argument("--model", default="embedded", help="rewriter base model: 'embedded', an HF id or a folder")
    e.add_argument("--adapter", default=None, help="LoRA adapter folder for --rewriter raqo")
    e.add_argument("--mode", default="recot", choices=["recot", "direct", "detect"])
    e.add_argument("--no-gallery-rewrite", action="store_true", help="leave the I2T caption gallery as it is")
    e.add_argument("--ungrounded", action="store_true", help=UNGROUNDED_HELP)
    _backend_arg(e)
    e.set_defaults(func=_cmd_eval)

    cp = sub.add_parser("compare", help="compare rewriters on the same queries, with paired 95 %% intervals")
    cp.add_argument("--data", required=True)
    cp.add_argument("--retriever", default="embedded")
    cp.add_argument("--split", default="test")
    cp.add_argument("--register", default="user")
    cp.add_argument("--limit", type=int, default=None)
    cp.add_argument(
        "--row",
        action="append",
        required=True,
        help="NAME=ADAPTER[@recot|@ungrounded|@direct], NAME=wordnet|llm-rewrite|visual-description or NAME=none (no rewriting); "
        "repeat it. The first row is the reference",
    )
    cp.add_argument("--model", default="embedded", help="rewriter base model: 'embedded', an HF id or a folder")
    cp.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples")
    cp.add_argument("--seed", type=int, default=0)
    cp.add_argument("--json", default=None)
    cp.add_argument("--md", default=None, help="write the markdown table here")
    cp.add_argument("--device", default="cpu")
    cp.add_argument("--threads", type=int, default=None)
    cp.add_argument("--quiet", action="store_true")
    _backend_arg(cp)
    cp.set_defaults(func=_cmd_compare)

    mp = sub.add_parser("mpade", help="mine the retriever's preferences (D_CCR, D_QRE, D_PRO)")
    mp.add_argument("--data", required=True)
    mp.add_argument("--retriever", default="embedded")
    mp.add_argument("--agent", choices=["offline", "chat"], default="offline")
    mp.add_argument("--out", required=True)
    mp.add_argument("--split", default="train")
    mp.add_argument("--register", default="captions", help="queries to mine (the embedded benchmark: user)")
    mp.add_argument("--rounds", type=int, default=3)
    mp.add_argument("--limit", type=int, default=None, help="the first N queries only")
    mp.add_argument("--queries-per-image", type=int, default=None)
    mp.add_argument("--filter-threshold", type=float, default=0.5)
    mp.add_argument(
        "--concepts",
        default="agent",
        help="concept lines: 'agent' (the spans the agent named), 'edits' (exactly the spans the best rewrite edits) or 'changed' (the agent's spans that the rewrite edits)",
    )
    mp.add_argument("--no-perturb", dest="perturb", action="store_false", help="no WordNet perturbations of unambiguous queries")
    mp.add_argument("--perturb-ratio", type=float, default=None, help="at most this many perturbations per ambiguous query (default: all)")
    mp.add_argument("--perturb-exclude", default=None, help="comma-separated words never used as perturbations (e.g. a test split's)")
    mp.add_argument("--seed", type=int, default=0)
    mp.add_argument("--endpoint", default=None, help="OpenAI-compatible base URL for --agent chat")
    mp.add_argument("--agent-model", default=None)
    mp.add_argument("--api-key-env", default="OPENAI_API_KEY")
    mp.add_argument("--concurrency", type=int, default=8)
    mp.add_argument("--device", default="cpu")
    mp.add_argument("--threads", type=int, default=None)
    mp.set_defaults(func=_cmd_mpade)

    tr = sub.add_parser("train", help="MPADE → CCD-SFT → QRE-SFT → PRO: a LoRA adapter for your retriever")
    tr.add_argument("--config", required=True, help="training/configs/<preset>.yaml")
    tr.add_argument("--out", default="runs")
    tr.add_argument("--ablations", action="store_true", help="also train Table 4's ablation variants")
    tr.add_argument("--threads", type=int, default=None)
    tr.set_defaults(func=_cmd_train)

    rp = sub.add_parser("report", help="the paper's tables on the embedded benchmark (JSON, markdown, PNG)")
    rp.add_argument("--config", default=None, help="the training config whose run folder holds the adapters")
    rp.add_argument("--runs", default="runs")
    rp.add_argument("--adapter", default=None, help="the RAQO adapter (overrides the config's)")
    rp.add_argument("--data", default=None)
    rp.add_argument("--retriever", default="embedded")
    rp.add_argument("--limit", type=int, default=None, help="T2I queries to evaluate (default 500)")
    rp.add_argument("--i2t-images", type=int, default=None, help="I2T query images (default 100)")
    rp.add_argument("--no-baselines", action="store_true")
    rp.add_argument("--out", default="results/report")
    rp.add_argument("--threads", type=int, default=None)
    rp.set_defaults(func=_cmd_report)

    x = sub.add_parser("export-onnx", help="export a retriever's encoders to ONNX (with a parity check)")
    x.add_argument("--retriever", required=True)
    x.add_argument("--out", required=True)
    x.add_argument("--fp16", action="store_true", help="also write fp16 graphs (for GPUs)")
    x.add_argument("--int8", action="store_true", help="also write int8 dynamically quantised graphs (for CPUs)")
    x.add_argument("--legacy", action="store_true", help="use the legacy TorchScript exporter (opset 17) directly")
    x.add_argument("--threads", type=int, default=None)
    x.set_defaults(func=_cmd_export_onnx)

    xr = sub.add_parser("export-rewriter", help="export a trained rewriter for inference engines (merged HF, GGUF, LoRA)")
    xr.add_argument(
        "--adapter", default="auto", help="LoRA adapter folder ('auto' = the shipped embedded adapter for --mode; 'none' = the base alone)"
    )
    xr.add_argument("--model", default="embedded", help="the adapter's base model: 'embedded', an HF id or a folder")
    xr.add_argument("--mode", default="recot", choices=["recot", "direct", "detect"], help="picks the shipped adapter for 'auto'")
    xr.add_argument("--out", required=True, help="folder for hf/, gguf/rewriter-<type>.gguf and lora/")
    xr.add_argument("--format", default="hf,gguf,lora", help="comma-separated: hf (merged, for vLLM/TGI), gguf (llama.cpp/Ollama), lora")
    xr.add_argument("--gguf-type", default="f16,q8_0", help="comma-separated GGUF types: f16, q8_0")
    xr.add_argument("--tokenizer-gguf", default=None, help="a GGUF of the same base model to take the tokenizer from (non-embedded bases)")
    xr.add_argument("--threads", type=int, default=None)
    xr.set_defaults(func=_cmd_export_rewriter)

    w = sub.add_parser("rewrite", help="rewrite queries with RAQO (or a baseline)")
    w.add_argument("query", nargs="+")
    w.add_argument("--rewriter", default="raqo")
    w.add_argument("--model", default="embedded")
    w.add_argument("--adapter", default="auto", help="LoRA adapter folder; 'auto' = the shipped embedded adapter for --mode (if any)")
    w.add_argument("--mode", default="recot", choices=["recot", "direct", "detect"])
    w.add_argument("--ungrounded", action="store_true", help=UNGROUNDED_HELP)
    w.add_argument("--json", action="store_true")
    w.add_argument("--threads", type=int, default=None)
    _backend_arg(w)
    w.set_defaults(func=_cmd_rewrite)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    t0 = time.time()
    try:
        rc: int = args.func(args)
    except RAQOError as exc:
        print(f"raqo: error: {exc}", file=sys.stderr)
        return 2
    except ImportError as exc:  # a missing optional dependency: one line naming what to install
        print(f"raqo: error: {exc}; install the extra that provides {exc.name or 'it'} (see the README's install section)", file=sys.stderr)
        return 2
    logging.getLogger("raqo").info("done in %.1fs", time.time() - t0)
    return rc


if __name__ == "__main__":
    sys.exit(main())
