"""Batched generation with a causal LM: left padding, greedy by default, per-row early stop."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass
class Generation:
    texts: list[list[str]]  # [prompt][sample]
    timed_out: bool
    seconds: float
    new_tokens: int


def render_chat(tokenizer: Any, messages: list[dict[str, str]], prefix: str = "") -> str:
    """Render a chat with the tokenizer's template (plain fallback) and prefill ``prefix``.
    Training builds its prompts with this same function, so train and inference agree."""
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    else:
        text = "".join(f"{m['role'].capitalize()}: {m['content']}\n" for m in messages) + "Assistant:"
    return text + prefix


class LMBackend:
    """Wraps a loaded model + tokenizer; one generation at a time (a lock guards the model)."""

    def __init__(self, model: Any, tokenizer: Any, device: str = "cpu") -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.device = device
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

        criteria = StoppingCriteriaList([_Done()])
        if max_time:
            criteria.append(MaxTimeCriteria(max_time))
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
        t0 = time.perf_counter()
        with self._lock, torch.inference_mode():
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
        grouped = [decoded[i * num_samples : (i + 1) * num_samples] for i in range(len(prompts))]
        timed_out = max_time is not None and seconds >= max_time
        return Generation(grouped, timed_out, seconds, int(new.shape[1]))
