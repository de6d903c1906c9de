"""``raqo train``: MPADE (or reuse its outputs) → CCD-SFT → QRE-SFT → PRO on one LoRA adapter.

Stage folders are named by the chain that produced them (``ccd``, ``ccd+qre``, ``ccd+qre+pro``,
``direct:qre`` …) inside the run folder, so a finished stage is skipped, and Table 4's ablation
rows reuse the prefixes they share with the full recipe.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from raqo_core.errors import RAQOError
from raqo_core.io import atomic_write_json
from raqo_core.training.stages import STAGES, LoraSettings, StageConfig, stage_done

ABLATIONS: dict[str, dict[str, Any]] = {
    "full": {"mode": "recot", "stages": ["ccd", "qre", "pro"]},
    "no_recot": {"mode": "direct", "stages": ["qre", "pro"]},
    "no_ccr": {"mode": "recot", "stages": ["qre", "pro"]},
    "no_qre": {"mode": "recot", "stages": ["ccd", "pro"]},
    "no_pro": {"mode": "recot", "stages": ["ccd", "qre"]},
}


@dataclass
class TrainConfig:
    """A training recipe (``training/configs/*.yaml``)."""

    name: str = field(default="run", metadata={"help": "run name; outputs go to <out>/<name>"})
    data: str = field(default="embedded", metadata={"help": "'embedded' (the embedded benchmark) or a dataset folder"})
    retriever: str = field(default="embedded", metadata={"help": "retriever spec the adapter is trained for"})
    base_model: str = field(default="embedded", metadata={"help": "'embedded' (SmolLM2-135M-Instruct), an HF id or folder"})
    mode: str = field(default="recot", metadata={"help": "recot | direct (Table 4: no ReCoT)"})
    stages: list[str] = field(default_factory=lambda: ["ccd", "qre", "pro"], metadata={"help": "stages to run, in order"})
    seed: int = 0
    threads: int | None = None
    mpade_dir: str | None = field(default=None, metadata={"help": "reuse MPADE outputs from this folder"})
    mpade: dict[str, Any] = field(default_factory=dict, metadata={"help": "MPADEConfig fields"})
    lora: dict[str, Any] = field(default_factory=dict, metadata={"help": "LoraSettings fields"})
    ccd: dict[str, Any] = field(default_factory=dict, metadata={"help": "StageConfig fields for CCD-SFT"})
    qre: dict[str, Any] = field(default_factory=dict, metadata={"help": "StageConfig fields for QRE-SFT"})
    pro: dict[str, Any] = field(default_factory=dict, metadata={"help": "StageConfig fields for PRO"})
    eval: dict[str, Any] = field(default_factory=dict, metadata={"help": "raqo report settings (limits)"})

    @classmethod
    def from_yaml(cls, path: str | Path) -> TrainConfig:
        import yaml

        p = Path(path)
        if not p.is_file():
            raise RAQOError(f"training config not found: {str(p)!r}")
        raw = yaml.safe_load(p.read_text()) or {}
        if not isinstance(raw, dict):
            raise RAQOError(f"{p}: expected a mapping of settings")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise RAQOError(f"{p}: unknown setting(s) {unknown}; expected some of {sorted(known)}")
        cfg = cls(**raw)
        cfg.validate()
        return cfg

    def validate(self) -> None:
        from raqo_core.mpade.config import MPADEConfig

        if self.mode not in ("recot", "direct"):
            raise RAQOError(f"mode must be 'recot' or 'direct', got {self.mode!r}")
        bad = [s for s in self.stages if s not in STAGES]
        if bad or not self.stages:
            raise RAQOError(f"stages must be a non-empty subset of {STAGES} in order, got {self.stages}")
        if self.mode == "direct" and "ccd" in self.stages:
            raise RAQOError("mode 'direct' (no ReCoT) has no concept detection: drop 'ccd' from stages")
        if [s for s in STAGES if s in self.stages] != list(self.stages):
            raise RAQOError(f"stages must keep the order ccd → qre → pro, got {self.stages}")
        for name in ("ccd", "qre", "pro"):
            self.stage(name).validate(name)
        MPADEConfig(**self.mpade).validate()
        LoraSettings(**self.lora)

    def stage(self, name: str) -> StageConfig:
        try:
            return StageConfig(**getattr(self, name))
        except TypeError as exc:
            raise RAQOError(f"stage {name!r}: {exc}") from None


def chain_name(mode: str, stages: list[str]) -> str:
    return ("direct:" if mode == "direct" else "") + "+".join(stages)


def _data_dir(cfg: TrainConfig) -> Path:
    if cfg.data == "embedded":
        from raqo_core.paths import embedded_benchmark_dir

        return embedded_benchmark_dir(0)
    return Path(cfg.data)


def check_mined_with(d: Path, requested: dict[str, Any]) -> None:
    """Refuse to reuse MPADE outputs mined with other settings than the config names explicitly."""
    from raqo_core.mpade.config import MPADEConfig

    mined = json.loads((d / "meta.json").read_text()).get("config", {})
    defaults = asdict(MPADEConfig())
    for key, want in requested.items():
        have = mined.get(key, defaults.get(key))
        if have != want:
            raise RAQOError(
                f"MPADE outputs in {d} were mined with {key}={have!r}, but the config asks for {key}={want!r}; "
                "delete that folder to re-mine, or give the run another name"
            )


def ensure_mpade(cfg: TrainConfig, run: Path) -> Path:
    """MPADE outputs for this run (reused when present)."""
    d = Path(cfg.mpade_dir) if cfg.mpade_dir else run / "mpade"
    if (d / "meta.json").is_file() and (d / "D_QRE.jsonl").is_file():
        check_mined_with(d, cfg.mpade)
        return d
    from raqo_core.data.manifest import load_manifest
    from raqo_core.mpade.agents import OfflineAgent
    from raqo_core.mpade.config import MPADEConfig
    from raqo_core.mpade.engine import run_mpade
    from raqo_core.retriever.base import shared_retriever

    m = load_manifest(_data_dir(cfg))
    r = shared_retriever(cfg.retriever)
    agent = OfflineAgent.from_manifest(r, m)
    run_mpade(m, r, agent, d, MPADEConfig(**cfg.mpade), vocabulary=agent.vocab)
    return d


def _with_policy_candidates(
    cfg: TrainConfig, sc: StageConfig, lists: list[dict[str, Any]], sdir: Path, prev: Path | None, mpade: Path
) -> list[dict[str, Any]]:
    """The PRO lists this stage trains on, with the stage-start model's own scored rewrites added."""
    from raqo_core.data.manifest import load_manifest
    from raqo_core.retriever.base import shared_retriever
    from raqo_core.training.policy import add_policy_candidates
    from raqo_core.training.stages import _subset

    lists = _subset([r for r in lists if r["concepts"] or cfg.mode == "direct"], sc.max_examples, cfg.seed)
    sdir.mkdir(parents=True, exist_ok=True)
    mined = json.loads((mpade / "meta.json").read_text()).get("config", {})
    return add_policy_candidates(
        lists,
        sdir / "D_PRO.policy.jsonl",
        base=cfg.base_model,
        adapter=prev,
        retriever=shared_retriever(cfg.retriever),
        manifest=load_manifest(_data_dir(cfg)),
        split=cfg.mpade.get("split", "train"),
        register=cfg.mpade.get("register", "user"),
        mode=cfg.mode,
        samples=sc.policy_samples,
        temperature=sc.policy_temperature,
        score=mined.get("score", "cosine"),  # policy rewrites are scored exactly like MPADE's candidates
        score_scale=float(mined.get("score_scale", 100.0)),
        seed=cfg.seed,
    )


def run_training(cfg: TrainConfig, out: str | Path = "runs", *, publish: bool = True) -> dict[str, Any]:
    """Run (or resume) the recipe; returns a summary with the final adapter's path.

    ``publish=False`` (Table 4's ablation variants, which share the run folder): the chain's own
    stage adapter is the result; ``<run>/adapter`` and ``train_summary.json`` stay the recipe's."""
    import torch

    from raqo_core.retriever.base import shared_retriever
    from raqo_core.rewriter.models import resolve_base
    from raqo_core.training import data as D
    from raqo_core.training.stages import _subset, train_pro_stage, train_sft_stage

    cfg.validate()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    run = Path(out) / cfg.name
    run.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    mpade = ensure_mpade(cfg, run)
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(resolve_base(cfg.base_model)[0])
    lora = LoraSettings(**cfg.lora)
    prev: Path | None = None
    done_stages: list[str] = []
    summary: dict[str, Any] = {"name": cfg.name, "mode": cfg.mode, "stages": {}, "mpade": str(mpade)}
    for stage in cfg.stages:
        done_stages.append(stage)
        sdir = run / chain_name(cfg.mode, done_stages)
        info = stage_done(sdir)
        if info is None:
            sc = cfg.stage(stage)
            if stage == "ccd":
                ex = D.ccd_examples(tok, D.load_ccr(mpade / "D_CCR.jsonl"), sc.max_length)
                info = train_sft_stage("ccd", ex, sdir, base=cfg.base_model, init_adapter=prev, cfg=sc, lora=lora, seed=cfg.seed)
            elif stage == "qre":
                ex = D.qre_examples(tok, D.load_qre(mpade / "D_QRE.jsonl"), cfg.mode, sc.max_length)
                if sc.replay > 0 and cfg.mode == "recot" and "ccd" in done_stages:
                    # rehearsal: without it, rewrite-only training overwrites the concept step (measured:
                    # the model then answers the concept line with a rewrite and every query falls back)
                    ex = _subset(ex, sc.max_examples, cfg.seed)
                    ccd = D.ccd_examples(tok, D.load_ccr(mpade / "D_CCR.jsonl"), sc.max_length)
                    ex = _subset(ex + _subset(ccd, round(sc.replay * len(ex)), cfg.seed + 1), None, cfg.seed)
                    sc = dataclasses.replace(sc, max_examples=None)
                info = train_sft_stage("qre", ex, sdir, base=cfg.base_model, init_adapter=prev, cfg=sc, lora=lora, seed=cfg.seed)
            else:
                lists = D.load_pro(mpade / "D_PRO.jsonl")
                if sc.policy_samples:
                    lists = _with_policy_candidates(cfg, sc, lists, sdir, prev, mpade)
                    sc = dataclasses.replace(sc, max_examples=None)  # the subset was taken before generating
                ex = D.pro_examples(tok, lists, cfg.mode, sc.ranking_length, sc.max_length)
                rehearse = None
                if sc.replay > 0 and cfg.mode == "recot" and "ccd" in done_stages:  # PRO trains rewrites only, too
                    rehearse = D.ccd_examples(tok, D.load_ccr(mpade / "D_CCR.jsonl"), sc.max_length)
                info = train_pro_stage(ex, sdir, base=cfg.base_model, init_adapter=prev, cfg=sc, lora=lora, seed=cfg.seed, replay=rehearse)
        summary["stages"][stage] = {"dir": str(sdir), **{k: info[k] for k in ("examples", "seconds", "metrics")}}
        if (sdir / "D_PRO.policy.json").is_file():
            summary["stages"][stage]["policy_candidates"] = json.loads((sdir / "D_PRO.policy.json").read_text())
        prev = sdir / "adapter"
    assert prev is not None
    final = run / "adapter"
    meta_m = json.loads((mpade / "meta.json").read_text())
    retriever_fp = shared_retriever(cfg.retriever).fingerprint
    if meta_m.get("retriever_fingerprint") not in (None, retriever_fp):
        raise RAQOError(
            f"MPADE outputs in {mpade} were mined with retriever {meta_m['retriever_fingerprint']!r}, "
            f"not {retriever_fp!r}; re-run MPADE for this retriever"
        )
    adapter_meta = {
        "retriever": cfg.retriever,
        "retriever_fingerprint": retriever_fp,
        "base_model": cfg.base_model,
        "mode": cfg.mode,
        "stages": cfg.stages,
        "recipe": asdict(cfg),
        "mpade_counts": meta_m.get("counts"),
        "stage_metrics": summary["stages"],
    }
    atomic_write_json(prev / "raqo_adapter.json", adapter_meta)
    summary["seconds"] = round(time.time() - t0, 1)
    if not publish:
        summary["adapter"] = str(prev)
        atomic_write_json(run / f"train_summary.{prev.parent.name.replace(':', '-')}.json", summary)
        return summary
    shutil.rmtree(final, ignore_errors=True)
    shutil.copytree(prev, final)
    summary["adapter"] = str(final)
    atomic_write_json(run / "train_summary.json", summary)
    return summary
