"""``hf``: in-process transformers generation (the default engine; always installable).

Batched, left-padded, greedy by default, per-row early stop. One generation at a time: a lock
guards the model, and the time limit starts once the lock is held, so waiting behind another
caller never counts as generation time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from raqo_core.rewriter.engines.base import Generation, finish_reason
from raqo_core.rewriter.engines.template import render_chat

if TYPE_CHECKING:
    from raqo_core.rewriter.rewriter import RewriterConfig


class HFGenerator:
    """Wraps a loaded transformers model + tokenizer."""

    checks_retriever = True  # load_adapter warned already if the adapter was trained for another retriever

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        device: str = "cpu",
        *,
        name: str = "",
        adapter_meta: dict[str, Any] | None = None,
        tag: str = "",
    ) -> None:
        """``tag`` is ``""`` for the reference (fp32/bf16 weights: caches keyed before engines existed stay
        valid) and ``"hf:int8"`` for dynamically quantised weights, whose answers differ."""
        self.model = model
        self.tokenizer = tokenizer
        self.device = device
        self.name = name or str(getattr(getattr(model, "config", None), "_name_or_path", "model"))
        self.adapter_meta = dict(adapter_meta or {})
        self.tag = tag
        self._lock = threading.Lock()

    def chat_prompt(self, messages: list[dict[str, str]], prefix: str = "") -> str:
        return render_chat(self.tokenizer, messages, prefix)

    def generate(
        self,
        prompts: Sequence[str],
        *,
        max_new_tokens: int = 48,
        is_done: Callable[[str], bool] | None = None,
        max_time: float | None = None,
        num_samples: int = 1,
        temperature: float = 0.7,
        seed: int = 0,
        min_new_tokens: int | None = None,
        ground_in: Sequence[str] | None = None,
        ground_top_k: int = 8,
        mode: str = "recot",
    ) -> Generation:
        """``ground_in``: the query behind each prompt; the ``Concepts:`` line may then only quote
        it, choosing among the ``ground_top_k`` best tokens per step
        (:class:`~raqo_core.rewriter.grounding.GroundedConcepts`)."""
        import torch
        from transformers import MaxTimeCriteria, StoppingCriteria, StoppingCriteriaList

        tok = self.tokenizer
        enc = tok(list(prompts), return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)
        start = enc["input_ids"].shape[1]

        class _Done(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                texts = tok.batch_decode(input_ids[:, start:], skip_special_tokens=True)
                return torch.tensor([is_done(t) if is_done else False for t in texts], device=input_ids.device)

        sample = num_samples > 1
        kwargs: dict[str, Any] = {"do_sample": sample, "num_return_sequences": num_samples}
        if ground_in is not None:
            from transformers import LogitsProcessorList

            from raqo_core.rewriter.grounding import GroundedConcepts

            if len(ground_in) != len(prompts):
                raise ValueError(f"ground_in has {len(ground_in)} queries for {len(prompts)} prompts")
            grounded = GroundedConcepts(tok, ground_in, start, rows_per_query=num_samples, top_k=ground_top_k)
            kwargs["logits_processor"] = LogitsProcessorList([grounded])
        if min_new_tokens:  # benchmarks: a fixed token budget even where the model would stop
            kwargs["min_new_tokens"] = min_new_tokens
        if sample:
            kwargs.update(temperature=temperature, top_p=0.95)
        else:
            kwargs.update(temperature=None, top_p=None, top_k=None)
        with self._lock, torch.inference_mode():
            # The clock starts here, once this caller holds the model (not while it queued for it).
            criteria = StoppingCriteriaList([_Done()])
            if max_time:
                criteria.append(MaxTimeCriteria(max_time))
            t0 = time.perf_counter()
            if sample:
                torch.manual_seed(seed)
            out = self.model.generate(
                **enc,
                max_new_tokens=max_new_tokens,
                stopping_criteria=criteria,
                pad_token_id=tok.pad_token_id,
                eos_token_id=tok.eos_token_id,
                use_cache=True,
                **kwargs,
            )
            seconds = time.perf_counter() - t0
        new = out[:, start:]
        decoded = tok.batch_decode(new, skip_special_tokens=True)
        eos_ids = _eos_ids(self.model, tok)
        ended = [bool(set(row.tolist()) & eos_ids) for row in new]
        timed_out = max_time is not None and seconds >= max_time
        finish = [finish_reason(t, ended=e, is_done=is_done, timed_out=timed_out) for t, e in zip(decoded, ended, strict=True)]
        group = range(len(prompts))
        return Generation(
            [decoded[i * num_samples : (i + 1) * num_samples] for i in group],
            timed_out,
            seconds,
            int(new.shape[1]),
            [finish[i * num_samples : (i + 1) * num_samples] for i in group],
        )


def _eos_ids(model: Any, tok: Any) -> set[int]:
    ids = getattr(getattr(model, "generation_config", None), "eos_token_id", None) or tok.eos_token_id
    return set(ids if isinstance(ids, list) else [ids]) - {None}


def build(arg: str, config: RewriterConfig, **_: Any) -> HFGenerator:
    """``hf``: the config's model + adapter, loaded with transformers (+ peft); ``hf:int8``: the same with
    int8 dynamic quantisation of the Linear layers (CPU; ``RewriterConfig.quantize_int8`` means the same)."""
    from raqo_core.errors import RAQOError
    from raqo_core.rewriter.models import load_causal_lm

    if arg not in ("", "int8"):
        raise RAQOError(f"backend 'hf' takes no argument or 'int8', got 'hf:{arg}'; the model is RewriterConfig.model ({config.model!r})")
    c = config
    int8 = c.quantize_int8 or arg == "int8"
    lm = load_causal_lm(
        c.model,
        adapter=c.adapter,
        merge_adapter=c.merge_adapter,
        device=c.device,
        dtype=c.dtype,
        trust_remote_code=c.trust_remote_code,
        quantize_int8=int8,
        expected_retriever=c.retriever_fingerprint,
    )
    return HFGenerator(lm.model, lm.tokenizer, c.device, name=lm.name, adapter_meta=lm.adapter_meta, tag="hf:int8" if int8 else "")
