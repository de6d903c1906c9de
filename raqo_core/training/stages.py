"""The three stages on one LoRA adapter: CCD-SFT and QRE-SFT with TRL's ``SFTTrainer``, PRO with
:class:`PROTrainer`. Each stage is a resumable step that writes an adapter folder with its config
and metrics (``stage.json``); a stage whose ``stage.json`` says done is skipped.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from raqo_core.errors import RAQOError
from raqo_core.io import atomic_write_json

logger = logging.getLogger(__name__)
STAGES = ("ccd", "qre", "pro")
PAPER_DEFAULTS = {
    "ccd": {"lr": 2e-5, "batch_size": 8, "epochs": 3.0},
    "qre": {"lr": 1e-5, "batch_size": 8, "epochs": 3.0},
    "pro": {"lr": 5e-7, "batch_size": 16, "epochs": 4.0},
}


@dataclass
class StageConfig:
    """One stage's hyperparameters (TRL/transformers names where they exist)."""

    lr: float = field(
        default=2e-4,
        metadata={
            "help": "peak learning rate (paper: CCD 2e-5, QRE 1e-5, PRO 5e-7 for full 7B fine-tuning; LoRA on a small model needs more)"
        },
    )
    batch_size: int = field(default=8, metadata={"help": "examples (PRO: lists) per optimiser step"})
    epochs: float = field(default=3.0, metadata={"help": "passes over the stage's data"})
    max_examples: int | None = field(default=None, metadata={"help": "use the first N examples (quick runs)"})
    max_length: int = field(default=256, metadata={"help": "token cap per sequence"})
    warmup_ratio: float = field(default=0.05, metadata={"help": "linear warm-up share"})
    save_steps: int = field(default=50, metadata={"help": "checkpoint every N steps (resume point)"})
    logging_steps: int = field(default=10, metadata={"help": "log every N steps"})
    sft_weight: float = field(default=0.05, metadata={"help": "PRO only: weight of the SFT term on the best candidate"})
    reward_scale: float = field(default=100.0, metadata={"help": "PRO only: multiplies text–image cosine rewards (CLIP's logit scale)"})
    ranking_length: int = field(default=5, metadata={"help": "PRO only: candidates per list (paper: 5)"})
    replay: float = field(
        default=0.0,
        metadata={
            "help": "QRE and PRO: D_CCR examples mixed in, as a share of the stage's examples (PRO: lists), so the concept step"
            " the stage never trains is not forgotten"
        },
    )

    policy_samples: int = field(
        default=0,
        metadata={
            "help": "PRO only: rewrites of the stage-start model (1 greedy + the rest sampled) scored by the retriever and"
            " added to each list, so the loss also ranks the model's own mistakes (0 = MPADE's candidates only)"
        },
    )
    policy_temperature: float = field(default=0.8, metadata={"help": "PRO only: sampling temperature of the policy rewrites"})

    def validate(self, name: str) -> None:
        if self.lr <= 0 or self.batch_size < 1 or self.epochs <= 0:
            raise RAQOError(f"stage {name!r}: lr, batch_size and epochs must be positive, got {self.lr}, {self.batch_size}, {self.epochs}")
        if self.replay < 0:
            raise RAQOError(f"stage {name!r}: replay must be >= 0, got {self.replay}")
        if self.policy_samples < 0 or self.policy_temperature <= 0:
            raise RAQOError(
                f"stage {name!r}: policy_samples must be >= 0 and policy_temperature > 0, got {self.policy_samples}, {self.policy_temperature}"
            )
        if self.ranking_length < 2:
            raise RAQOError(f"stage {name!r}: ranking_length must be >= 2, got {self.ranking_length}")


@dataclass
class LoraSettings:
    r: int = field(default=16, metadata={"help": "LoRA rank"})
    alpha: int = field(default=32, metadata={"help": "LoRA alpha"})
    dropout: float = field(default=0.05, metadata={"help": "LoRA dropout"})
    target_modules: list[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"], metadata={"help": "modules to adapt"}
    )


class NonFiniteLossError(RAQOError):
    """Training produced NaN/inf; the last good checkpoint is kept."""


def _nan_callback() -> Any:
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
    else:
        model = get_peft_model(
            model,
            LoraConfig(
                r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout, target_modules=list(lora.target_modules), task_type="CAUSAL_LM"
            ),
        )
    return model, tok


def _subset(examples: list[Any], n: int | None, seed: int) -> list[Any]:
    """A seeded shuffle, then the first ``n``: MPADE files are grouped by source (None examples
    last), so a plain prefix would drop whole kinds of examples."""
    import random

    out = list(examples)
    random.Random(seed).shuffle(out)
    return out[:n] if n else out


def _latest_checkpoint(d: Path) -> str | None:
    cks = sorted(d.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    return str(cks[-1]) if cks else None


def _finish(
    out: Path, model: Any, tok: Any, name: str, metrics: dict[str, Any], cfg: StageConfig, seconds: float, n: int
) -> dict[str, Any]:
    adapter = out / "adapter"
    tmp = out / "adapter.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    shutil.rmtree(adapter, ignore_errors=True)
    tmp.rename(adapter)
    info = {"stage": name, "done": True, "examples": n, "seconds": round(seconds, 1), "config": asdict(cfg), "metrics": metrics}
    atomic_write_json(out / "stage.json", info)
    shutil.rmtree(out / "checkpoints", ignore_errors=True)
    return info


def _train_and_finish(trainer: Any, tok: Any, out: Path, name: str, cfg: StageConfig, n: int) -> dict[str, Any]:
    """Train (resuming from the last checkpoint, if any) and write the stage's adapter + stage.json."""
    t0 = time.time()
    result = trainer.train(resume_from_checkpoint=_latest_checkpoint(out / "checkpoints"))
    metrics = {"train_loss": float(result.training_loss), "steps": result.global_step}
    return _finish(out, trainer.model, tok, name, metrics, cfg, time.time() - t0, n)


def stage_done(out: Path) -> dict[str, Any] | None:
    p = out / "stage.json"
    if p.is_file():
        info = json.loads(p.read_text())
        if info.get("done") and (out / "adapter" / "adapter_config.json").is_file():
            return info
    return None


def _common_args(out: Path, cfg: StageConfig, seed: int) -> dict[str, Any]:
    return {
        "output_dir": str(out / "checkpoints"),
        "learning_rate": cfg.lr,
        "per_device_train_batch_size": cfg.batch_size,
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
        "save_only_model": False,
    }


def _no_checkpointing(args_cls: Any) -> dict[str, Any]:
    """Activation checkpointing off (TRL defaults it on; it only slows small models), under either name."""
    f = args_cls.__dataclass_fields__
    return {"activation_checkpointing": False} if "activation_checkpointing" in f else {"gradient_checkpointing": False}


def has_cuda() -> bool:
    """Whether torch finds a GPU: the stages train there, and PRO's policy rewrites generate there."""
    import torch

    return bool(torch.cuda.is_available())


def train_sft_stage(
    name: str,
    examples: list[dict[str, list[int]]],
    out: Path,
    *,
    base: str,
    init_adapter: Path | None,
    cfg: StageConfig,
    lora: LoraSettings,
    seed: int = 0,
) -> dict[str, Any]:
    """CCD-SFT or QRE-SFT: TRL ``SFTTrainer`` on pre-tokenized prompt/completion examples
    (``completion_only_loss``: only the completion tokens count)."""
    import datasets
    from trl import SFTConfig, SFTTrainer

    cfg.validate(name)
    if not examples:
        raise RAQOError(f"stage {name!r} has no training examples")
    examples = _subset(examples, cfg.max_examples, seed)
    out.mkdir(parents=True, exist_ok=True)
    model, tok = load_trainable(base, init_adapter, lora, seed)
    ds = datasets.Dataset.from_list(examples)
    args = SFTConfig(
        **_common_args(out, cfg, seed), **_no_checkpointing(SFTConfig), completion_only_loss=True, max_length=cfg.max_length, packing=False
    )
    trainer = SFTTrainer(model=model, args=args, train_dataset=ds, processing_class=tok, callbacks=[_nan_callback()])
    return _train_and_finish(trainer, tok, out, name, cfg, len(examples))


class _PROCollator:
    """Pads every candidate of every list into one ``[batch * n, L]`` block (right padding), and the
    lists' replayed D_CCR examples, if any, into a ``replay_*`` block of their own."""

    def __init__(self, pad_id: int, n: int) -> None:
        self.pad_id = pad_id
        self.n = n

    def __call__(self, batch: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        seqs, masks, rewards, valid = [], [], [], []
        for ex in batch:
            cands = ex["candidates"][: self.n]
            for k in range(self.n):
                if k < len(cands):
                    seqs.append(cands[k]["input_ids"])
                    masks.append(cands[k]["completion_mask"])
                    valid.append(True)
                else:  # padding candidate (masked out of the loss)
                    seqs.append(cands[0]["input_ids"])
                    masks.append(cands[0]["completion_mask"])
                    valid.append(False)
            rewards.append([float(x) for x in ex["rewards"][: self.n]] + [0.0] * (self.n - len(cands)))
        out = {
            **self._pad(seqs, masks),
            "rewards": torch.tensor(rewards),
            "valid": torch.tensor(valid).view(len(batch), self.n),
        }
        replay = [r for ex in batch for r in ex.get("replay") or []]
        if replay:
            out.update(
                {f"replay_{k}": v for k, v in self._pad([r["input_ids"] for r in replay], [r["completion_mask"] for r in replay]).items()}
            )
        return out

    def _pad(self, seqs: list[list[int]], masks: list[list[int]]) -> dict[str, Any]:
        import torch

        width = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), width), self.pad_id, dtype=torch.long)
        att = torch.zeros((len(seqs), width), dtype=torch.long)
        comp = torch.zeros((len(seqs), width), dtype=torch.long)
        for i, (s, m) in enumerate(zip(seqs, masks, strict=True)):
            ids[i, : len(s)] = torch.tensor(s)
            att[i, : len(s)] = 1
            comp[i, : len(m)] = torch.tensor(m)
        return {"input_ids": ids, "attention_mask": att, "completion_mask": comp}


def sequence_logps(logits: Any, input_ids: Any, completion_mask: Any) -> tuple[Any, Any]:
    """Summed and length-normalised log-probs of the completion tokens of each sequence."""
    import torch

    logp = torch.log_softmax(logits[:, :-1].float(), dim=-1)
    tgt = input_ids[:, 1:]
    tok_logp = logp.gather(-1, tgt.unsqueeze(-1)).squeeze(-1)
    m = completion_mask[:, 1:].to(tok_logp.dtype)
    s = (tok_logp * m).sum(-1)
    return s, s / m.sum(-1).clamp_min(1.0)


def make_pro_trainer_class() -> Any:
    from transformers import Trainer

    from raqo_core.training.pro_loss import pro_loss

    class PROTrainer(Trainer):
        """A ``Trainer`` whose loss is :func:`pro_loss` over ranked candidate lists."""

        def __init__(self, *args: Any, n: int = 5, sft_weight: float = 0.05, reward_scale: float = 100.0, **kw: Any) -> None:
            super().__init__(*args, **kw)
            self.n, self.sft_weight, self.reward_scale = n, sft_weight, reward_scale

        def compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool = False, num_items_in_batch: Any = None) -> Any:
            out = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])
            s, mean = sequence_logps(out.logits, inputs["input_ids"], inputs["completion_mask"])
            b = inputs["rewards"].shape[0]
            loss = pro_loss(
                mean.view(b, self.n), s.view(b, self.n), inputs["rewards"] * self.reward_scale, self.sft_weight, mask=inputs["valid"]
            )
            if "replay_input_ids" in inputs:  # rehearsal of D_CCR: token-mean NLL of the concept lines
                ids, comp = inputs["replay_input_ids"], inputs["replay_completion_mask"]
                r = model(input_ids=ids, attention_mask=inputs["replay_attention_mask"])
                rs, _ = sequence_logps(r.logits, ids, comp)
                loss = loss - rs.sum() / comp[:, 1:].sum().clamp_min(1)
            return (loss, out) if return_outputs else loss

    return PROTrainer


def train_pro_stage(
    examples: list[dict[str, Any]],
    out: Path,
    *,
    base: str,
    init_adapter: Path | None,
    cfg: StageConfig,
    lora: LoraSettings,
    seed: int = 0,
    replay: list[dict[str, list[int]]] | None = None,
) -> dict[str, Any]:
    """PRO on ranked lists. ``replay`` (tokenized D_CCR examples) are attached one per list to the
    first ``round(cfg.replay * lists)`` lists; their SFT loss is added to that step's PRO loss."""
    import datasets
    from transformers import TrainingArguments

    cfg.validate("pro")
    if not examples:
        raise RAQOError("stage 'pro' has no ranked lists (D_PRO needs lists of at least 2 candidates)")
    examples = _subset(examples, cfg.max_examples, seed)
    if replay and cfg.replay > 0:
        extra = _subset(replay, round(cfg.replay * len(examples)), seed + 1)
        examples = [{**ex, "replay": [extra[i]] if i < len(extra) else []} for i, ex in enumerate(examples)]
        examples = _subset(examples, None, seed)
    out.mkdir(parents=True, exist_ok=True)
    model, tok = load_trainable(base, init_adapter, lora, seed)
    ds = datasets.Dataset.from_list(examples)
    args = TrainingArguments(**_common_args(out, cfg, seed), **_no_checkpointing(TrainingArguments), remove_unused_columns=False)
    trainer = make_pro_trainer_class()(
        model=model,
        args=args,
        train_dataset=ds,
        data_collator=_PROCollator(tok.pad_token_id, cfg.ranking_length),
        n=cfg.ranking_length,
        sft_weight=cfg.sft_weight,
        reward_scale=cfg.reward_scale,
        callbacks=[_nan_callback()],
    )
    return _train_and_finish(trainer, tok, out, "pro", cfg, len(examples))
