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
from raqo_core.training.stages import get_stage, stage_names
from raqo_core.training.stages.base import LoraSettings, StageConfig, StageContext, stage_done

MODES = ("recot", "direct")


def ablations() -> dict[str, tuple[str, list[str]]]:
    """Table 4's variants → (mode, stages): the full recipe, no ReCoT (direct mode, the stages that train
    it) and each registered stage left out."""
    full = list(stage_names())
    out = {"full": ("recot", full), "no_recot": ("direct", [s for s in full if "direct" in get_stage(s).modes])}
    for s in full:
        out[get_stage(s).ablation] = ("recot", [x for x in full if x != s])
    return out


@dataclass
class TrainConfig:
    """A training recipe (a preset in ``raqo_core/training/presets/``, linked from ``training/configs/``, or a YAML file). Each stage's settings sit under its name
    (``ccd: {lr: …}``); they are that stage's ``config_class`` fields."""

    name: str = field(default="run", metadata={"help": "run name; outputs go to <out>/<name>"})
    data: str = field(default="embedded", metadata={"help": "'embedded' (the embedded benchmark) or a dataset folder"})
    retriever: str = field(default="embedded", metadata={"help": "retriever spec the adapter is trained for"})
    base_model: str = field(default="embedded", metadata={"help": "'embedded' (SmolLM2-135M-Instruct), an HF id or folder"})
    mode: str = field(default="recot", metadata={"help": "recot | direct (Table 4: no ReCoT)"})
    stages: list[str] = field(default_factory=lambda: list(stage_names()), metadata={"help": "stages to run, in order"})
    seed: int = 0
    threads: int | None = None
    mpade_dir: str | None = field(default=None, metadata={"help": "reuse MPADE outputs from this folder"})
    mpade: dict[str, Any] = field(default_factory=dict, metadata={"help": "MPADEConfig fields"})
    lora: dict[str, Any] = field(default_factory=dict, metadata={"help": "LoraSettings fields"})
    stage_settings: dict[str, dict[str, Any]] = field(
        default_factory=dict, metadata={"help": "per-stage settings by stage name (in YAML: top-level keys ccd:, qre:, pro: …)"}
    )
    eval: dict[str, Any] = field(default_factory=dict, metadata={"help": "raqo report settings (limits)"})

    @classmethod
    def from_yaml(cls, path: str | Path, *, validate: bool = True) -> TrainConfig:
        """A config file, or a preset shipped with the package by name (:func:`preset_names`: ``quick``, ``embedded``, ``paper``)."""
        import yaml

        p = resolve_config(path)
        raw = yaml.safe_load(p.read_text()) or {}
        if not isinstance(raw, dict):
            raise RAQOError(f"{p}: expected a mapping of settings")
        known = {f.name for f in fields(cls)} - {"stage_settings"}
        per_stage = {k: raw.pop(k) for k in list(raw) if k in stage_names()}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise RAQOError(f"{p}: unknown setting(s) {unknown}; expected some of {sorted(known | set(stage_names()))}")
        bad = [k for k, v in per_stage.items() if not isinstance(v, dict)]
        if bad:
            raise RAQOError(f"{p}: stage settings {bad} must be mappings of that stage's fields")
        cfg = cls(**raw, stage_settings=per_stage)
        if validate:  # the dry run validates itself, to report every problem at once
            try:
                cfg.validate()
            except RAQOError as exc:
                raise RAQOError(f"{p}: {exc}") from None
        return cfg

    def validate(self) -> None:
        from raqo_core.mpade.config import MPADEConfig

        if self.mode not in MODES:
            raise RAQOError(f"mode must be one of {MODES}, got {self.mode!r}")
        names = stage_names()
        bad = [s for s in self.stages if s not in names]
        if bad or not self.stages:
            raise RAQOError(f"stages must be a non-empty subset of {names} in order, got {self.stages}")
        if [s for s in names if s in self.stages] != list(self.stages):
            raise RAQOError(f"stages must keep the order {' → '.join(names)}, got {self.stages}")
        for s in self.stages:
            if self.mode not in get_stage(s).modes:
                raise RAQOError(f"stage {s!r} does not train mode {self.mode!r} (it trains {get_stage(s).modes}): drop it from stages")
        unknown = sorted(set(self.stage_settings) - set(names))
        if unknown:
            raise RAQOError(f"settings for unknown stage(s) {unknown}; expected some of {names}")
        for s in names:
            self.stage(s)
        for what, cls, values in (("mpade", MPADEConfig, self.mpade), ("lora", LoraSettings, self.lora)):
            try:
                made = cls(**values)
            except TypeError as exc:
                raise RAQOError(f"{what}: {exc}; expected some of {sorted(f.name for f in fields(cls))}") from None
            if isinstance(made, MPADEConfig):
                made.validate()

    def stage(self, name: str) -> StageConfig:
        """The settings of stage ``name`` (its ``config_class``, checked)."""
        try:
            return get_stage(name).config_class(**self.stage_settings.get(name, {}))
        except TypeError as exc:
            raise RAQOError(f"stage {name!r}: {exc}") from None

    def variant(self, name: str) -> TrainConfig:
        """The recipe of Table 4's variant ``name`` (see :func:`ablations`)."""
        table = ablations()
        if name not in table:
            raise RAQOError(f"unknown ablation {name!r}; expected one of {list(table)}")
        mode, stages = table[name]
        return self if name == "full" else dataclasses.replace(self, mode=mode, stages=stages)

    def data_dir(self) -> Path:
        if self.data == "embedded":
            from raqo_core.paths import embedded_benchmark_dir

            return embedded_benchmark_dir(0)
        return Path(self.data)


PRESETS = Path(__file__).resolve().parent / "presets"


def preset_names() -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in PRESETS.glob("*.yaml")))


def resolve_config(path: str | Path) -> Path:
    """``path`` if it is a file, else the shipped preset of that name (``embedded`` or ``embedded.yaml``)."""
    p = Path(path)
    if p.is_file():
        return p
    preset = PRESETS / f"{p.stem}.yaml"
    if p.parent == Path(".") and preset.is_file():
        return preset
    raise RAQOError(f"training config not found: {str(p)!r}; expected a YAML file or a preset name: {', '.join(preset_names())}")


def chain_name(mode: str, stages: list[str]) -> str:
    return ("direct:" if mode == "direct" else "") + "+".join(stages)


def trained_adapters(cfg: TrainConfig, runs: str | Path = "runs") -> dict[str, str]:
    """Table 4's variants whose adapters a run folder holds: variant → that chain's own stage adapter
    (``full``: the same weights as ``<run>/adapter``)."""
    run = Path(runs) / cfg.name
    out = {}
    for v, (mode, stages) in ablations().items():
        d = run / chain_name(mode, stages) / "adapter"
        if (d / "adapter_config.json").is_file():
            out[v] = str(d)
    return out


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


def check_mined_for(d: Path, retriever_fp: str) -> dict[str, Any]:
    """MPADE's meta, after checking it was mined against this retriever (before any stage trains)."""
    meta = json.loads((d / "meta.json").read_text())
    if meta.get("retriever_fingerprint") not in (None, retriever_fp):
        raise RAQOError(
            f"MPADE outputs in {d} were mined with retriever {meta['retriever_fingerprint']!r}, "
            f"not {retriever_fp!r}; re-run MPADE for this retriever"
        )
    return dict(meta)


def ensure_mpade(cfg: TrainConfig, run: Path) -> Path:
    """MPADE outputs for this run (reused when present)."""
    from raqo_core.mpade.records import QRE_FILE

    d = Path(cfg.mpade_dir) if cfg.mpade_dir else run / "mpade"
    if (d / "meta.json").is_file() and (d / QRE_FILE).is_file():
        check_mined_with(d, cfg.mpade)
        return d
    from raqo_core.data.manifest import load_manifest
    from raqo_core.mpade.agents import OfflineAgent
    from raqo_core.mpade.config import MPADEConfig
    from raqo_core.mpade.engine import run_mpade
    from raqo_core.retriever.registry import shared_retriever

    m = load_manifest(cfg.data_dir())
    r = shared_retriever(cfg.retriever)
    agent = OfflineAgent.from_manifest(r, m)
    run_mpade(m, r, agent, d, MPADEConfig(**cfg.mpade), vocabulary=agent.vocab)
    return d


LOOKUP_DIR = "lookup"  # <adapter>/lookup: the retriever look-up built beside the adapter (lookup="auto" uses it)


def write_lookup(cfg: TrainConfig, mpade: Path, out: Path) -> str:
    """The retriever look-up for this run's retriever, in ``out``: the train captions' vocabulary plus the
    preference lexicon of the run's MPADE outputs (:mod:`raqo_core.lookup.build`). Returns the folder's name,
    which ``raqo_adapter.json`` records under ``"lookup"``."""
    from raqo_core.data.manifest import load_manifest
    from raqo_core.lookup.build import build_lookup_folder, mined_lexicon

    lexicon = mined_lexicon(mpade, cfg.retriever)
    build_lookup_folder(load_manifest(cfg.data_dir()), out, lexicon=lexicon, source=f"train captions of {cfg.data}")
    return out.name


def run_training(cfg: TrainConfig, out: str | Path = "runs", *, publish: bool = True) -> dict[str, Any]:
    """Run (or resume) the recipe; returns a summary with the final adapter's path.

    ``publish=False`` (Table 4's ablation variants, which share the run folder): the chain's own
    stage adapter is the result; ``<run>/adapter`` and ``train_summary.json`` stay the recipe's."""
    import torch
    from transformers import AutoTokenizer

    from raqo_core.retriever.registry import shared_retriever
    from raqo_core.rewriter.models import resolve_base
    from raqo_core.training.distributed import init_distributed, on_main

    cfg.validate()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    init_distributed()  # under accelerate launch / torchrun: join the group; MPADE and writes are rank 0's
    run = Path(out) / cfg.name
    run.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    on_main(lambda: ensure_mpade(cfg, run), "MPADE")
    mpade = ensure_mpade(cfg, run)  # every process: the outputs rank 0 mined (reused, checked)
    retriever_fp = shared_retriever(cfg.retriever).fingerprint
    meta_m = check_mined_for(mpade, retriever_fp)
    tok = AutoTokenizer.from_pretrained(resolve_base(cfg.base_model)[0])
    lora = LoraSettings(**cfg.lora)
    prev: Path | None = None
    summary: dict[str, Any] = {"name": cfg.name, "mode": cfg.mode, "stages": {}, "mpade": str(mpade)}
    for n, stage in enumerate(cfg.stages):
        sdir = run / chain_name(cfg.mode, cfg.stages[: n + 1])
        info = stage_done(sdir)
        if info is None:
            ctx = StageContext(cfg, mpade, tok, lora, prev, tuple(cfg.stages[:n]))
            info = get_stage(stage)().train(ctx, cfg.stage(stage), sdir)
        summary["stages"][stage] = {"dir": str(sdir), **{k: v for k, v in info.items() if k not in ("stage", "done", "config")}}
        prev = sdir / "adapter"
    assert prev is not None
    final = run / "adapter"
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
    summary["seconds"] = round(time.time() - t0, 1)
    summary["adapter"] = str(final if publish else prev)

    def write() -> None:
        adapter_meta["lookup"] = write_lookup(cfg, mpade, prev / LOOKUP_DIR)
        atomic_write_json(prev / "raqo_adapter.json", adapter_meta)
        if not publish:
            atomic_write_json(run / f"train_summary.{prev.parent.name.replace(':', '-')}.json", summary)
            return
        tmp = run / "adapter.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(prev, tmp)
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
        atomic_write_json(run / "train_summary.json", summary)

    on_main(write, "publishing the adapter")
    return summary


def train_variants(cfg: TrainConfig, out: str | Path = "runs", *, with_ablations: bool = False) -> dict[str, dict[str, Any]]:
    """``raqo train``: the recipe, and with ``with_ablations`` every Table 4 variant (sharing the run folder's stages)."""
    names = list(ablations()) if with_ablations else ["full"]
    return {v: run_training(cfg.variant(v), out, publish=v == "full") for v in names}
