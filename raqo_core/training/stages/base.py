"""What every stage shares: its settings' base class, the context a recipe hands it, and the resumable
train-and-save step (an adapter folder plus ``stage.json``; a stage whose ``stage.json`` says done is skipped)."""

from __future__ import annotations

import json
import logging
import math
import random
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from raqo_core.errors import RAQOError
from raqo_core.io import atomic_write_json

if TYPE_CHECKING:
    from raqo_core.training.pipeline import TrainConfig

logger = logging.getLogger("raqo_core.training")


@dataclass
class StageConfig:
    """One stage's hyperparameters (TRL/transformers names where they exist); subclasses add their own."""

    stage: ClassVar[str] = "stage"  # the registered name, for error messages
    lr: float = field(
        default=2e-4,
        metadata={
            "help": "peak learning rate (paper: CCD 2e-5, QRE 1e-5, PRO 5e-7 for full 7B fine-tuning; LoRA on a small model needs more)"
        },
    )
    batch_size: int = field(default=8, metadata={"help": "examples (PRO: lists) per optimiser step"})
    epochs: float = field(default=3.0, metadata={"help": "passes over the stage's data"})
    max_examples: int | None = field(default=None, metadata={"help": "use N examples (a seeded sample; quick runs)"})
    max_length: int = field(default=256, metadata={"help": "token cap per sequence"})
    warmup_ratio: float = field(default=0.05, metadata={"help": "linear warm-up share"})
    save_steps: int = field(default=50, metadata={"help": "checkpoint every N steps (resume point)"})
    logging_steps: int = field(default=10, metadata={"help": "log every N steps"})

    def __post_init__(self) -> None:
        if self.lr <= 0 or self.batch_size < 1 or self.epochs <= 0:
            raise RAQOError(
                f"stage {self.stage!r}: lr, batch_size and epochs must be positive, got {self.lr}, {self.batch_size}, {self.epochs}"
            )
        if self.max_examples is not None and self.max_examples < 1:
            raise RAQOError(f"stage {self.stage!r}: max_examples must be >= 1 or None, got {self.max_examples}")


@dataclass
class ReplayConfig(StageConfig):
    """A stage that trains rewrites only and so rehearses D_CCR's concept lines."""

    replay: float = field(
        default=0.0,
        metadata={
            "help": "D_CCR examples mixed in, as a share of the stage's examples (PRO: lists), so the concept step"
            " the stage never trains is not forgotten"
        },
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.replay < 0:
            raise RAQOError(f"stage {self.stage!r}: replay must be >= 0, got {self.replay}")


@dataclass
class LoraSettings:
    r: int = field(default=16, metadata={"help": "LoRA rank"})
    alpha: int = field(default=32, metadata={"help": "LoRA alpha"})
    dropout: float = field(default=0.05, metadata={"help": "LoRA dropout"})
    target_modules: list[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"], metadata={"help": "modules to adapt"}
    )


@dataclass
class StageContext:
    """What a recipe hands each stage: the recipe, MPADE's outputs, the tokenizer and the adapter so far."""

    train: TrainConfig
    mpade: Path  # the folder holding D_CCR / D_QRE / D_PRO
    tokenizer: Any
    lora: LoraSettings
    init_adapter: Path | None  # the previous stage's adapter (None: a fresh LoRA)
    before: tuple[str, ...]  # the stages trained earlier in this chain

    @property
    def mode(self) -> str:
        return self.train.mode

    @property
    def seed(self) -> int:
        return self.train.seed


class Stage:
    """A training stage. Subclasses declare their settings, Table 4 row and modes in the class line::

        class DPOStage(Stage, config=DPOConfig, ablation="no_dpo"):
            def train(self, ctx, cfg, out): ...

    Any object with these attributes and ``train`` works too (the registry only looks them up)."""

    name: ClassVar[str]  # the config's ``stage``
    config_class: ClassVar[type[StageConfig]]
    ablation: ClassVar[str]  # Table 4's row without this stage
    modes: ClassVar[tuple[str, ...]]  # rewriter modes the stage trains: recot and/or direct

    def __init_subclass__(
        cls, *, config: type[StageConfig], ablation: str, modes: tuple[str, ...] = ("recot", "direct"), **kw: Any
    ) -> None:
        super().__init_subclass__(**kw)
        cls.name, cls.config_class, cls.ablation, cls.modes = config.stage, config, ablation, modes

    def train(self, ctx: StageContext, cfg: Any, out: Path) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError


def subset(examples: list[Any], n: int | None, seed: int) -> list[Any]:
    """A seeded shuffle, then the first ``n``: MPADE files are grouped by source (None examples
    last), so a plain prefix would drop whole kinds of examples."""
    out = list(examples)
    random.Random(seed).shuffle(out)
    return out[:n] if n else out


def replay_pool(ctx: StageContext, cfg: ReplayConfig) -> list[dict[str, list[int]]] | None:
    """The tokenized D_CCR examples a rewrite-only stage rehearses, or None: only with ``replay > 0``, in
    recot mode and after CCD trained the concept step (without rehearsal, rewrite-only training overwrites
    it: the model then answers the concept line with a rewrite and every query falls back)."""
    if cfg.replay <= 0 or ctx.mode != "recot" or "ccd" not in ctx.before:
        return None
    from raqo_core.mpade.records import CCR_FILE, read_ccr
    from raqo_core.training.data import ccd_examples

    return ccd_examples(ctx.tokenizer, read_ccr(ctx.mpade / CCR_FILE), cfg.max_length)


def replay_sample(pool: list[Any], share: float, n: int, seed: int) -> list[Any]:
    """``round(share × n)`` examples of ``pool`` (seeded)."""
    return subset(pool, round(share * n), seed + 1)


class NonFiniteLossError(RAQOError):
    """Training produced NaN/inf; the last good checkpoint is kept."""


def nan_callback() -> Any:
    from transformers import TrainerCallback

    class StopOnNonFinite(TrainerCallback):
        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None, **kw: Any) -> None:
            loss = (logs or {}).get("loss")
            if loss is not None and not math.isfinite(loss):
                raise NonFiniteLossError(
                    f"loss became {loss} at step {state.global_step}; stopped. The last good checkpoint is kept in "
                    f"{args.output_dir} — lower the learning rate and resume"
                )

    return StopOnNonFinite()


def load_trainable(base: str, init_adapter: str | Path | None, lora: LoraSettings, seed: int) -> tuple[Any, Any]:
    """The base model (embedded: the safetensors copy of the GGUF) with a trainable LoRA adapter."""
    import torch
    from peft import LoraConfig, PeftModel, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from raqo_core.rewriter.models import resolve_base

    path, _ = resolve_base(base)
    torch.manual_seed(seed)
    tok = AutoTokenizer.from_pretrained(path)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model: Any = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    if init_adapter:
        model = PeftModel.from_pretrained(model, str(init_adapter), is_trainable=True)
        for c in model.peft_config.values():  # the saved reference is portable (a hub id); train against the local copy
            c.base_model_name_or_path = path
    else:
        model = get_peft_model(
            model,
            LoraConfig(
                r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout, target_modules=list(lora.target_modules), task_type="CAUSAL_LM"
            ),
        )
    return model, tok


def latest_checkpoint(d: Path) -> str | None:
    cks = sorted(d.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    return str(cks[-1]) if cks else None


def _finish(
    out: Path, model: Any, tok: Any, name: str, metrics: dict[str, Any], cfg: StageConfig, seconds: float, n: int, base_model: str
) -> dict[str, Any]:
    from raqo_core.rewriter.adapters import make_portable

    adapter = out / "adapter"
    tmp = out / "adapter.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    make_portable(tmp, base_model)  # a hub id, not this machine's cache path
    shutil.rmtree(adapter, ignore_errors=True)
    tmp.rename(adapter)
    info = {"stage": name, "done": True, "examples": n, "seconds": round(seconds, 1), "config": asdict(cfg), "metrics": metrics}
    atomic_write_json(out / "stage.json", info)
    shutil.rmtree(out / "checkpoints", ignore_errors=True)
    return info


def train_and_finish(trainer: Any, tok: Any, out: Path, name: str, cfg: StageConfig, n: int, base_model: str) -> dict[str, Any]:
    """Train (resuming from the last checkpoint, if any) and write the stage's adapter + stage.json
    (on the main process; every process returns what it wrote)."""
    from raqo_core.training.distributed import on_main

    t0 = time.time()
    result = trainer.train(resume_from_checkpoint=latest_checkpoint(out / "checkpoints"))
    metrics = {"train_loss": float(result.training_loss), "steps": result.global_step}
    seconds = time.time() - t0
    on_main(lambda: _finish(out, trainer.model, tok, name, metrics, cfg, seconds, n, base_model), f"saving stage {name!r}")
    info = stage_done(out)
    if info is None:  # pragma: no cover - _finish wrote it, or raised
        raise RAQOError(f"stage {name!r} finished but {out / 'stage.json'} is missing")
    return info


def stage_done(out: Path) -> dict[str, Any] | None:
    p = out / "stage.json"
    if p.is_file():
        info = json.loads(p.read_text())
        if info.get("done") and (out / "adapter" / "adapter_config.json").is_file():
            return info
    return None


def has_cuda() -> bool:
    """Whether torch finds a GPU: the stages train there, and PRO's policy rewrites generate there."""
    import torch

    return bool(torch.cuda.is_available())


def trainer_args(out: Path, cfg: StageConfig, seed: int, args_cls: Any) -> dict[str, Any]:
    """The transformers/TRL arguments every stage shares (``batch_size`` is per optimiser step across all
    processes; activation checkpointing off: TRL defaults it on,
    and it only slows small models; set under either of its names)."""
    from raqo_core.training.distributed import per_device_batch

    f = args_cls.__dataclass_fields__
    return {
        "output_dir": str(out / "checkpoints"),
        "learning_rate": cfg.lr,
        # the global batch split across processes (accelerate launch / torchrun); every LoRA weight is used in
        # every step, so DDP need not search for unused parameters (PRO's replay is a second forward pass)
        "per_device_train_batch_size": per_device_batch(cfg.batch_size, cfg.stage),
        "ddp_find_unused_parameters": False,
        "num_train_epochs": cfg.epochs,
        "warmup_steps": cfg.warmup_ratio,  # a float in [0, 1) is a ratio in transformers 5
        "lr_scheduler_type": "cosine",
        "logging_steps": cfg.logging_steps,
        "save_steps": cfg.save_steps,
        "save_total_limit": 1,
        "seed": seed,
        "report_to": "none",
        "disable_tqdm": False,
        "dataloader_num_workers": 0,
        "use_cpu": not has_cuda(),
        # fp32 as the weights are loaded: TRL >= 1.x defaults SFTConfig to bf16 autocast, which CPUs without bf16
        # units emulate (measured: 120 s instead of ~10 s per quick-preset CCD step on this machine's 2 cores)
        "bf16": False,
        "fp16": False,
        "save_only_model": False,
        ("activation_checkpointing" if "activation_checkpointing" in f else "gradient_checkpointing"): False,
    }
