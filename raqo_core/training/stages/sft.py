"""Supervised fine-tuning on prompt/completion examples with TRL's ``SFTTrainer`` (CCD-SFT and QRE-SFT)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from raqo_core.errors import RAQOError
from raqo_core.training.stages import base


def train_sft(
    name: str,
    examples: list[dict[str, list[int]]],
    out: Path,
    *,
    base_model: str,
    init_adapter: Path | None,
    cfg: base.StageConfig,
    lora: base.LoraSettings,
    seed: int = 0,
) -> dict[str, Any]:
    """TRL ``SFTTrainer`` on pre-tokenized examples (``completion_only_loss``: only the completion tokens count);
    ``cfg.max_examples`` of them, a seeded sample."""
    import datasets
    from trl import SFTConfig, SFTTrainer

    if not examples:
        raise RAQOError(f"stage {name!r} has no training examples")
    examples = base.subset(examples, cfg.max_examples, seed)
    out.mkdir(parents=True, exist_ok=True)
    model, tok = base.load_trainable(base_model, init_adapter, lora, seed)
    args = SFTConfig(**base.trainer_args(out, cfg, seed, SFTConfig), completion_only_loss=True, max_length=cfg.max_length, packing=False)
    trainer = SFTTrainer(
        model=model, args=args, train_dataset=datasets.Dataset.from_list(examples), processing_class=tok, callbacks=[base.nan_callback()]
    )
    return base.train_and_finish(trainer, tok, out, name, cfg, len(examples), base_model)
