"""What a generator engine is: rendered prompts in, completions out, each with why it ended.

The rewriting *policy* (prompt → parse → grounding → guard → fallback) lives in
:mod:`raqo_core.rewriter.rewriter` and is written once; an engine only turns prompts into
completions. Every engine reports, per completion, whether the model *finished* its answer
(``stop``: an end-of-turn token, a stop condition or a complete grammar) or was cut off
(``length``: the token cap; ``timeout``: the time limit). The policy never applies a cut-off
completion: a rewrite truncated mid-sentence would be searched with and cached otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

STOP, LENGTH, TIMEOUT = "stop", "length", "timeout"
FINISH_REASONS = (STOP, LENGTH, TIMEOUT)


@dataclass
class Generation:
    """``texts[prompt][sample]``; ``finish[prompt][sample]`` in :data:`FINISH_REASONS`.

    ``finish`` may be left ``None`` by a scripted engine whose texts are final answers; the
    policy then treats every text as finished unless ``timed_out``."""

    texts: list[list[str]]
    timed_out: bool
    seconds: float
    new_tokens: int
    finish: list[list[str]] | None = None
    errors: dict[int, str] = field(default_factory=dict)  # prompt index → why it got no completion
    info: dict[str, Any] = field(default_factory=dict)

    def finish_of(self, prompt: int, sample: int) -> str:
        if self.finish is None:
            return TIMEOUT if self.timed_out else STOP
        return self.finish[prompt][sample]


def finish_reason(text: str, *, ended: bool, is_done: Callable[[str], bool] | None, timed_out: bool) -> str:
    """Why a completion ended: ``ended`` = the engine saw end-of-turn / a finished grammar."""
    if ended or (is_done is not None and is_done(text)):
        return STOP
    return TIMEOUT if timed_out else LENGTH


@runtime_checkable
class Generator(Protocol):
    """A generator engine (``hf``, ``llamacpp``, ``openai`` or a third party's).

    ``name`` is the base model's stable name (it keys caches), ``tag`` names the engine and its
    weights when they differ from the in-process transformers default (``""`` for ``hf``), and
    ``adapter_meta`` is the RAQO adapter metadata the weights carry (retriever fingerprint, mode)."""

    name: str
    tag: str
    adapter_meta: dict[str, Any]

    def chat_prompt(self, messages: list[dict[str, str]], prefix: str = "") -> str: ...

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
        ground_in: Sequence[str] | None = None,
        mode: str = "recot",
    ) -> Generation: ...
