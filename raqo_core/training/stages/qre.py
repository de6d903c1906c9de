"""QRE-SFT: query rewriting, trained on D_QRE (the concepts and ``Rewrite:`` are context; loss on the rewrite)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from raqo_core.training.stages.base import ReplayConfig, Stage, StageContext, replay_pool, replay_sample, subset


@dataclass
class QREConfig(ReplayConfig):
    stage: ClassVar[str] = "qre"


class QREStage(Stage, config=QREConfig, ablation="no_qre"):
    def train(self, ctx: StageContext, cfg: QREConfig, out: Path) -> dict[str, Any]:
        from raqo_core.mpade.records import QRE_FILE, read_qre
        from raqo_core.training.data import qre_examples
        from raqo_core.training.stages.sft import train_sft

        ex = qre_examples(ctx.tokenizer, read_qre(ctx.mpade / QRE_FILE), ctx.mode, cfg.max_length)
        pool = replay_pool(ctx, cfg)
        if pool is not None:  # the stage's sample first, then the concept lines mixed in (and no second cut)
            ex = subset(ex, cfg.max_examples, ctx.seed)
            ex = subset(ex + replay_sample(pool, cfg.replay, len(ex), ctx.seed), None, ctx.seed)
            cfg = dataclasses.replace(cfg, max_examples=None)
        return train_sft(
            "qre", ex, out, base_model=ctx.train.base_model, init_adapter=ctx.init_adapter, cfg=cfg, lora=ctx.lora, seed=ctx.seed
        )
