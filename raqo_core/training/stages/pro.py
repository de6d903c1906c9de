"""PRO: preference ranking optimisation over D_PRO's ranked lists (the retriever's scores as rewards),
with :class:`PROTrainer` — a transformers ``Trainer`` whose loss is :func:`~raqo_core.training.pro_loss.pro_loss`."""

from __future__ import annotations

import dataclasses
import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from transformers import Trainer

from raqo_core.errors import RAQOError
from raqo_core.training.pro_loss import pro_loss
from raqo_core.training.stages import base
from raqo_core.training.stages.base import ReplayConfig, Stage, StageContext


@dataclass
class PROConfig(ReplayConfig):
    stage: ClassVar[str] = "pro"
    sft_weight: float = field(default=0.05, metadata={"help": "weight of the SFT term on the best candidate"})
    reward_scale: float = field(default=100.0, metadata={"help": "multiplies text–image cosine rewards (CLIP's logit scale)"})
    ranking_length: int = field(default=5, metadata={"help": "candidates per list (paper: 5)"})
    policy_samples: int = field(
        default=0,
        metadata={
            "help": "rewrites of the stage-start model (1 greedy + the rest sampled) scored by the retriever and"
            " added to each list, so the loss also ranks the model's own mistakes (0 = MPADE's candidates only)"
        },
    )
    policy_temperature: float = field(default=0.8, metadata={"help": "sampling temperature of the policy rewrites"})

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.policy_samples < 0 or self.policy_temperature <= 0:
            raise RAQOError(
                f"stage 'pro': policy_samples must be >= 0 and policy_temperature > 0, got {self.policy_samples}, {self.policy_temperature}"
            )
        if self.ranking_length < 2:
            raise RAQOError(f"stage 'pro': ranking_length must be >= 2, got {self.ranking_length}")


class PROCollator:
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
                c = cands[k] if k < len(cands) else cands[0]  # padding candidates are masked out of the loss
                seqs.append(c["input_ids"])
                masks.append(c["completion_mask"])
                valid.append(k < len(cands))
            rewards.append([float(x) for x in ex["rewards"][: self.n]] + [0.0] * (self.n - len(cands)))
        out = {**self._pad(seqs, masks), "rewards": torch.tensor(rewards), "valid": torch.tensor(valid).view(len(batch), self.n)}
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
    tok_logp = logp.gather(-1, input_ids[:, 1:].unsqueeze(-1)).squeeze(-1)
    m = completion_mask[:, 1:].to(tok_logp.dtype)
    s = (tok_logp * m).sum(-1)
    return s, s / m.sum(-1).clamp_min(1.0)


class PROTrainer(Trainer):
    """A ``Trainer`` whose loss is :func:`pro_loss` over ranked candidate lists (plus the token-mean NLL of
    replayed D_CCR concept lines, when the batch carries them)."""

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


def train_pro(
    examples: list[dict[str, Any]],
    out: Path,
    *,
    base_model: str,
    init_adapter: Path | None,
    cfg: PROConfig,
    lora: base.LoraSettings,
    seed: int = 0,
    replay: list[dict[str, list[int]]] | None = None,
) -> dict[str, Any]:
    """PRO on tokenized ranked lists. ``replay`` (tokenized D_CCR examples) are attached one per list to the
    first ``round(cfg.replay × lists)`` lists; their SFT loss is added to that step's PRO loss."""
    import datasets
    from transformers import TrainingArguments

    if not examples:
        raise RAQOError("stage 'pro' has no ranked lists (D_PRO needs lists of at least 2 candidates)")
    examples = base.subset(examples, cfg.max_examples, seed)
    if replay and cfg.replay > 0:
        extra = base.replay_sample(replay, cfg.replay, len(examples), seed)
        examples = base.subset([{**ex, "replay": [extra[i]] if i < len(extra) else []} for i, ex in enumerate(examples)], None, seed)
    out.mkdir(parents=True, exist_ok=True)
    model, tok = base.load_trainable(base_model, init_adapter, lora, seed)
    args = TrainingArguments(**base.trainer_args(out, cfg, seed, TrainingArguments), remove_unused_columns=False)
    trainer = PROTrainer(
        model=model,
        args=args,
        train_dataset=datasets.Dataset.from_list(examples),
        data_collator=PROCollator(tok.pad_token_id, cfg.ranking_length),
        n=cfg.ranking_length,
        sft_weight=cfg.sft_weight,
        reward_scale=cfg.reward_scale,
        callbacks=[base.nan_callback()],
    )
    return base.train_and_finish(trainer, tok, out, "pro", cfg, len(examples), base_model)


class PROStage(Stage, config=PROConfig, ablation="no_pro"):
    def train(self, ctx: StageContext, cfg: PROConfig, out: Path) -> dict[str, Any]:
        from raqo_core.mpade.records import PRO_FILE, read_pro
        from raqo_core.training.data import pro_examples

        lists = read_pro(ctx.mpade / PRO_FILE)
        if cfg.policy_samples:
            lists = _with_policy_candidates(ctx, cfg, lists, out)
            cfg = dataclasses.replace(cfg, max_examples=None)  # the sample was taken before generating
        ex = pro_examples(ctx.tokenizer, lists, ctx.mode, cfg.ranking_length, cfg.max_length)
        info = train_pro(
            ex,
            out,
            base_model=ctx.train.base_model,
            init_adapter=ctx.init_adapter,
            cfg=cfg,
            lora=ctx.lora,
            seed=ctx.seed,
            replay=base.replay_pool(ctx, cfg),
        )
        stats = out / "D_PRO.policy.json"
        if stats.is_file():  # recorded in stage.json, so a resumed run reports it too
            from raqo_core.io import atomic_write_json
            from raqo_core.training.distributed import on_main

            info = {**info, "policy_candidates": json.loads(stats.read_text())}
            on_main(lambda: atomic_write_json(out / "stage.json", info), "writing stage 'pro'")
        return info


def _with_policy_candidates(ctx: StageContext, cfg: PROConfig, lists: list[Any], out: Path) -> list[Any]:
    """The lists this stage trains on, with the stage-start model's own scored rewrites added."""
    from raqo_core.data.manifest import load_manifest
    from raqo_core.retriever.registry import shared_retriever
    from raqo_core.training.distributed import on_main
    from raqo_core.training.policy import add_policy_candidates

    t = ctx.train
    lists = base.subset([r for r in lists if r.concepts or ctx.mode == "direct"], cfg.max_examples, ctx.seed)
    out.mkdir(parents=True, exist_ok=True)
    mined = json.loads((ctx.mpade / "meta.json").read_text()).get("config", {})
    # generated and written once, by the main process; then every process reads the same lists from the file
    generate = functools.partial(
        add_policy_candidates,
        lists,
        out / "D_PRO.policy.jsonl",
        base=t.base_model,
        adapter=ctx.init_adapter,
        retriever=shared_retriever(t.retriever),
        manifest=load_manifest(t.data_dir()),
        split=t.mpade.get("split", "train"),
        register=t.mpade.get("register", "user"),
        mode=ctx.mode,
        samples=cfg.policy_samples,
        temperature=cfg.policy_temperature,
        score=mined.get("score", "cosine"),  # policy rewrites are scored exactly like MPADE's candidates
        score_scale=float(mined.get("score_scale", 100.0)),
        seed=ctx.seed,
    )
    on_main(generate, "PRO policy rewrites")
    return generate()  # reused from D_PRO.policy.jsonl
