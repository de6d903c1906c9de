"""``raqo train --dry-run``: check a whole recipe and its data without loading any weights, and print the plan.

Every check runs (so one run lists every problem): the config and each stage's settings; the dataset, its MPADE
split and register; that the base model and the retriever resolve (files present, names known); reused MPADE
outputs; the output folder. Then, per stage, the examples, optimiser steps and a rough memory estimate.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from raqo_core.errors import RAQOError


@dataclass
class Plan:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    stages: list[dict[str, Any]] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


def _check(plan: Plan, what: str, fn: Any) -> Any:
    try:
        return fn()
    except RAQOError as exc:
        plan.problems.append(f"{what}: {exc}")
    except OSError as exc:
        plan.problems.append(f"{what}: {exc}")
    return None


def _data(cfg: Any, plan: Plan) -> int | None:
    """Queries MPADE would mine (split, register, limit, queries_per_image), from the manifest alone."""
    from raqo_core.data.manifest import load_manifest

    if cfg.data == "embedded":
        from raqo_core.data.synth import SynthConfig

        n_images = SynthConfig().n_train
        per = cfg.mpade.get("queries_per_image") or SynthConfig().captions_per_image
        plan.data = {"data": "embedded (rendered on first use)", "train_images": n_images}
        limit = cfg.mpade.get("limit")
        return min(n_images * per, limit) if limit else n_images * per
    m = load_manifest(cfg.data, check_images=False)
    split, register = cfg.mpade.get("split", "train"), cfg.mpade.get("register", "captions")
    recs = m.split(split)
    plan.data = {"data": str(cfg.data), "records": len(m), "splits": {s: len(m.split(s)) for s in ("train", "val", "test")}}
    if not recs:
        raise RAQOError(f"the MPADE split {split!r} of {cfg.data!r} has no records")
    if register not in m.registers():
        raise RAQOError(f"the MPADE register {register!r} is not in {cfg.data!r}; it has {m.registers()}")
    per = cfg.mpade.get("queries_per_image")
    n = sum(min(len(r.texts(register)), per or 10**9) for r in recs)
    if n == 0:
        raise RAQOError(f"no {register!r} texts in the {split!r} split of {cfg.data!r}")
    limit = cfg.mpade.get("limit")
    return min(n, limit) if limit else n


def _base_model(name: str, plan: Plan) -> dict[str, Any] | None:
    """The base model's config.json (for the estimates), found without loading weights."""
    from raqo_core.rewriter.bases import PACKAGED_BASES

    if name in PACKAGED_BASES:
        spec = PACKAGED_BASES.get(name)
        spec.check_installed()
        from raqo_core.paths import cache_dir

        done = [d for d in cache_dir("models").glob(f"{spec.name}-*") if (d / "config.json").is_file()]
        if not done:  # converted from the GGUF on first use; its shape, for the estimates
            plan.notes.append(f"the {name} base is converted from its GGUF on first use ({spec.convert_note})")
            return dict(spec.shape)
        return dict(json.loads((done[0] / "config.json").read_text()))
    p = Path(name)
    if not p.exists() and (p.is_absolute() or name.startswith((".", "~"))):
        raise RAQOError(f"base model folder {name!r} does not exist")
    if p.exists():
        if not (p / "config.json").is_file():
            raise RAQOError(f"base model folder {str(p)!r} has no config.json; expected a Hugging Face causal LM folder")
        return dict(json.loads((p / "config.json").read_text()))
    if "/" not in name:
        raise RAQOError(f"unknown base model {name!r}; expected 'embedded', a Hugging Face id (org/name) or a local folder")
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(name, "config.json")
    except Exception:  # noqa: BLE001 - an old or absent huggingface_hub: just not known locally
        cached = None
    if isinstance(cached, str):
        return dict(json.loads(Path(cached).read_text()))
    plan.notes.append(f"base model {name!r} is not in the local Hugging Face cache: it is downloaded when training starts")
    return None


def _retriever(spec: str) -> str:
    """That the retriever spec resolves (files present, model names known), without loading weights."""
    from raqo_core.retriever.registry import LOADERS

    prefix, sep, body = spec.partition(":")
    if prefix == "embedded" and not sep:
        from raqo_core.retriever.embedded import embedded_checkpoint_dir

        w = embedded_checkpoint_dir() / "open_clip_model.safetensors"
        if not w.is_file():
            raise RAQOError(f"the embedded retriever checkpoint is missing at {str(w)!r}")
        return "embedded (shipped)"
    if prefix == "onnx" and sep:
        if not (Path(body) / "raqo_onnx.json").is_file():
            raise RAQOError(f"{body!r} is not a RAQO ONNX export (no raqo_onnx.json); make one with `raqo export-onnx`")
        return f"ONNX export {body}"
    if prefix == "open_clip" and sep:
        import open_clip

        from raqo_core.retriever.open_clip_backend import register_model_configs

        register_model_configs()
        model, _, tag = body.partition("/")
        if not body.startswith(("hf-hub:", "local-dir:")) and model not in open_clip.list_models():
            raise RAQOError(f"unknown open_clip model {model!r}; expected one of open_clip.list_models() (e.g. 'ViT-B-32')")
        if tag and not body.startswith(("hf-hub:", "local-dir:")) and tag not in open_clip.list_pretrained_tags_by_model(model):
            raise RAQOError(
                f"unknown pretrained tag {tag!r} for {model!r}; expected one of {open_clip.list_pretrained_tags_by_model(model)}"
            )
        return f"open_clip {body} (weights are fetched or read when training starts)"
    if Path(spec).is_dir():
        if not (Path(spec) / "open_clip_config.json").is_file():
            raise RAQOError(f"{spec!r} is not an open_clip checkpoint folder (no open_clip_config.json)")
        return f"local open_clip folder {spec}"
    if prefix in LOADERS:
        return f"{prefix} backend (registered)"
    raise RAQOError(f"unknown retriever spec {spec!r}; expected one of the registered prefixes {LOADERS.names()} or a folder")


def _mpade_counts(d: Path) -> dict[str, int]:
    from raqo_core.mpade.records import CCR_FILE, PRO_FILE, QRE_FILE

    missing = [f for f in (CCR_FILE, QRE_FILE, PRO_FILE, "meta.json") if not (d / f).is_file()]
    if missing:
        raise RAQOError(f"mpade_dir {str(d)!r} lacks {missing}; expected the outputs of `raqo mpade`")
    return {f: sum(1 for line in (d / f).open(encoding="utf-8") if line.strip()) for f in (CCR_FILE, QRE_FILE, PRO_FILE)}


def _memory_mb(model_cfg: dict[str, Any] | None, lora_r: int, batch: int, length: int) -> float | None:
    """A rough fp32 estimate: weights, LoRA and its Adam state, and activations without checkpointing."""
    if not model_cfg:
        return None
    h, layers = int(model_cfg.get("hidden_size", 0)), int(model_cfg.get("num_hidden_layers", 0))
    v, inter = int(model_cfg.get("vocab_size", 0)), int(model_cfg.get("intermediate_size", 4 * h))
    if not (h and layers and v):
        return None
    params = layers * (4 * h * h + 3 * h * inter) + v * h
    lora = layers * 4 * 2 * h * lora_r
    activations = batch * length * layers * (16 * h + 2 * inter) * 4 + batch * length * v * 4 * 2  # + logits, log-softmax
    return round((params * 4 + lora * 16 + activations) / 2**20, 1)


def plan_training(cfg: Any, out: str | os.PathLike[str] = "runs", *, processes: int | None = None) -> Plan:
    """Check ``cfg`` (a :class:`~raqo_core.training.pipeline.TrainConfig`) and its data; estimate each stage.

    ``processes``: how many processes the run will be launched with (``accelerate launch --num_processes``;
    default: this launch's ``WORLD_SIZE``, else 1). Each stage's ``batch_size`` is split across them."""
    from raqo_core.training.distributed import process_info
    from raqo_core.training.pipeline import chain_name

    plan = Plan()
    world = processes if processes is not None else process_info().world_size
    if world < 1:
        plan.problems.append(f"processes: expected >= 1, got {world}")
        world = 1
    if world > 1:
        plan.notes.append(f"{world} processes: each stage's batch_size is split across them; MPADE and PRO's policy rewrites run on rank 0")
    _check(plan, "config", cfg.validate)
    n_queries = _check(plan, "data", lambda: _data(cfg, plan))
    model_cfg = _check(plan, "base_model", lambda: _base_model(cfg.base_model, plan))
    where = _check(plan, "retriever", lambda: _retriever(cfg.retriever))
    if where:
        plan.notes.append(f"retriever: {where}")
    run = Path(out) / cfg.name
    mined = Path(cfg.mpade_dir) if cfg.mpade_dir else run / "mpade"
    counts = None
    if cfg.mpade_dir or (mined / "meta.json").is_file():
        counts = _check(plan, "mpade_dir", lambda: _mpade_counts(mined))
    elif n_queries:
        plan.notes.append(f"MPADE mines {n_queries:,} queries first (the example counts below are upper bounds)")
    try:
        Path(out).mkdir(parents=True, exist_ok=True)
        if not os.access(out, os.W_OK):
            plan.problems.append(f"output folder {str(out)!r} is not writable")
    except OSError as exc:
        plan.problems.append(f"output folder {str(out)!r}: {exc}")
    lora_r = int(cfg.lora.get("r", 16))
    for i, name in enumerate(cfg.stages):
        sc = _check(plan, f"stage {name!r}", lambda name=name: cfg.stage(name))
        if sc is None:
            continue
        file = {"ccd": "D_CCR.jsonl", "qre": "D_QRE.jsonl", "pro": "D_PRO.jsonl"}.get(name)
        available = counts.get(file) if counts and file else n_queries
        n = min(x for x in (available, sc.max_examples) if x is not None) if (available or sc.max_examples) else None
        replay = getattr(sc, "replay", 0.0) if cfg.mode == "recot" and "ccd" in cfg.stages[:i] else 0.0
        lists = hasattr(sc, "ranking_length")  # PRO: each example is a ranked list, replay rides along with the lists
        if sc.batch_size % world:
            plan.problems.append(
                f"stage {name!r}: batch_size={sc.batch_size} is not divisible by {world} processes; expected a multiple of {world}"
            )
        per_device = max(1, sc.batch_size // world)
        per_step = per_device * (sc.ranking_length + (1 if replay else 0) if lists else 1)
        rows = None if n is None else (n if lists else round(n * (1 + replay)))
        steps = None if rows is None else math.ceil(rows * sc.epochs / sc.batch_size)
        if world > 1 and rows and rows % sc.batch_size and not sc.batch_size % world:
            plan.notes.append(
                f"stage {name!r}: {rows} rows leave a last global batch of {rows % sc.batch_size} (of {sc.batch_size}); "
                f"the launcher's sampler repeats examples to give each of the {world} processes a full one, so that step "
                "differs slightly from a 1-process run"
            )
        plan.stages.append(
            {
                "stage": name,
                "folder": str(run / chain_name(cfg.mode, cfg.stages[: i + 1])),
                "examples": rows,
                "steps": steps,
                "batch_size": sc.batch_size,
                "per_process_batch": per_device,
                "epochs": sc.epochs,
                "max_length": sc.max_length,
                "memory_mb": _memory_mb(model_cfg, lora_r, per_step, sc.max_length),
            }
        )
    return plan


def format_plan(plan: Plan, cfg: Any) -> str:
    lines = [
        f"training plan for {cfg.name!r}: {cfg.mode}, stages {' → '.join(cfg.stages)}, base {cfg.base_model}, retriever {cfg.retriever}"
    ]
    if plan.data:
        lines.append("data: " + ", ".join(f"{k} {v}" for k, v in plan.data.items()))
    if plan.stages:
        lines += [
            "",
            "| stage | examples | steps | batch (per process) | epochs | max length | memory per process (rough, MB) |",
            "|---|---|---|---|---|---|---|",
        ]
        for s in plan.stages:
            batch = f"{s['batch_size']} ({s['per_process_batch']})"
            cells = [s["stage"], s["examples"], s["steps"], batch, s["epochs"], s["max_length"], s["memory_mb"]]
            lines.append("| " + " | ".join("?" if c is None else str(c) for c in cells) + " |")
    lines += [""] + [f"note: {n}" for n in plan.notes]
    lines += [f"problem: {p}" for p in plan.problems] or ["no problems found: the recipe is ready to train"]
    return "\n".join(lines)
