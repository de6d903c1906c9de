"""CCD-SFT: challenging-concept detection, trained on D_CCR (the concept line, or None)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from raqo_core.training.stages.base import Stage, StageConfig, StageContext


@dataclass
class CCDConfig(StageConfig):
    stage: ClassVar[str] = "ccd"


class CCDStage(Stage, config=CCDConfig, ablation="no_ccr", modes=("recot",)):  # direct rewriting has no concept step
    def train(self, ctx: StageContext, cfg: CCDConfig, out: Path) -> dict[str, Any]:
        from raqo_core.mpade.records import CCR_FILE, read_ccr
        from raqo_core.training.data import ccd_examples
        from raqo_core.training.stages.sft import train_sft

        ex = ccd_examples(ctx.tokenizer, read_ccr(ctx.mpade / CCR_FILE), cfg.max_length)
        return train_sft(
            "ccd", ex, out, base_model=ctx.train.base_model, init_adapter=ctx.init_adapter, cfg=cfg, lora=ctx.lora, seed=ctx.seed
        )
