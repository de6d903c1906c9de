"""``openai:BASE_URL``: any OpenAI-compatible server — vLLM, llama.cpp's servers, Ollama, TGI.

The prompt is rendered here, with the rewriter's chat template, and sent to ``/v1/completions``
with the assistant turn prefilled, so the server continues exactly what the model was trained to
write. Greedy by default with the penalties transformers uses (none: llama.cpp servers default
``repeat_penalty`` to 1.1, so it is sent), the prompt cache on (``cache_prompt``; vLLM caches
prefixes itself), and grounded concepts as a per-request grammar where the server takes one:
``grammar`` (GBNF) for llama.cpp servers, ``structured_outputs.grammar`` for vLLM; elsewhere the
answer is validated and an ungrounded one falls back. Requests run concurrently (bounded), each
with the whole ``timeout_s`` once a connection slot is held; 429/5xx/timeouts are retried inside
that time.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from raqo_core.errors import RAQOError
from raqo_core.http import HTTPFailure, JSONClient
from raqo_core.rewriter.engines.base import LENGTH, STOP, TIMEOUT, Generation
from raqo_core.rewriter.engines.template import CHATML, ChatTemplate

if TYPE_CHECKING:
    from raqo_core.rewriter.rewriter import RewriterConfig

GRAMMAR_STYLES = ("auto", "gbnf", "vllm", "none")


def _text_and_finish(data: Any) -> tuple[str, str]:
    choice = data["choices"][0]
    text = choice["text"]
    if not isinstance(text, str):
        raise TypeError(f"choices[0].text is {type(text).__name__}, not a string")
    return text, choice.get("finish_reason") or LENGTH


class OpenAIGenerator:
    def __init__(
        self,
        base_url: str,
        *,
        model: str | None = None,
        api_key: str | None = None,
        template: ChatTemplate | None = None,
        grammar: str = "auto",
        timeout_s: float = 30.0,
        max_retries: int = 2,
        concurrency: int = 4,
        name: str = "",
        adapter_meta: dict[str, Any] | None = None,
    ) -> None:
        if grammar not in GRAMMAR_STYLES:
            raise RAQOError(f"unknown engine_grammar {grammar!r}; expected one of {GRAMMAR_STYLES}")
        self.client = JSONClient(
            base_url, api_key=api_key, timeout_s=timeout_s, max_retries=max_retries, backoff_s=0.25, concurrency=concurrency
        )
        self.model = model
        self.grammar_style = grammar
        self.template = template or ChatTemplate(CHATML)
        self.concurrency = concurrency
        self._name = name
        self.adapter_meta = dict(adapter_meta or {})

    @property
    def name(self) -> str:
        return self._name or f"{self.model}"

    @property
    def tag(self) -> str:
        return f"openai:{self.model}"

    def load(self) -> OpenAIGenerator:
        """Ask the server which model it serves (``GET /models``) unless one was named; raises naming the URL."""
        if self.model is None or self.grammar_style == "auto":
            try:
                models = self.client.request("models", None, lambda d: list(d["data"]), deadline_s=self.client.timeout_s)
            except HTTPFailure as exc:
                raise RAQOError(f"cannot list the models of the rewriter server {self.client.base_url}: {exc}") from exc
            if not models:
                raise RAQOError(f"the rewriter server {self.client.base_url} serves no model (GET /models is empty)")
            if self.model is None:
                self.model = str(models[0]["id"])
            if self.grammar_style == "auto":
                owner = next((str(m.get("owned_by", "")) for m in models if m.get("id") == self.model), "")
                self.grammar_style = "vllm" if owner == "vllm" else "gbnf"
        return self

    def chat_prompt(self, messages: list[dict[str, str]], prefix: str = "") -> str:
        return self.template.render(messages, prefix)

    def _payload(self, prompt: str, *, max_new_tokens: int, temperature: float, seed: int, grammar: str | None) -> dict[str, Any]:
        greedy = temperature <= 0
        p: dict[str, Any] = {
            "model": self.model,
            "prompt": prompt,
            "max_tokens": max_new_tokens,
            "temperature": 0.0 if greedy else temperature,
            "top_p": 1.0 if greedy else 0.95,
            "seed": seed,
            "n": 1,
            "stream": False,
            "repeat_penalty": 1.0,  # llama.cpp servers (their default 1.1 breaks greedy parity)
            "repetition_penalty": 1.0,  # vLLM / TGI
            "cache_prompt": True,  # llama.cpp's native server: reuse the shared system-prompt prefix
        }
        if grammar is not None and self.grammar_style == "gbnf":
            p["grammar"] = grammar
        elif grammar is not None and self.grammar_style == "vllm":
            p["structured_outputs"] = {"grammar": grammar}
        return p

    def _one(self, payload: dict[str, Any], is_done: Callable[[str], bool] | None, max_time: float | None) -> tuple[str, str, float]:
        t0 = time.perf_counter()
        try:
            text, why = self.client.request("completions", payload, _text_and_finish, deadline_s=max_time)
        except HTTPFailure as exc:
            if exc.timed_out:
                return "", TIMEOUT, time.perf_counter() - t0
            raise
        finish = STOP if why == "stop" or (is_done is not None and is_done(text)) else LENGTH
        return text, finish, time.perf_counter() - t0

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
        min_new_tokens: int | None = None,
    ) -> Generation:
        from raqo_core.rewriter.engines.grammar import answer_grammar

        self.load()
        if ground_in is not None and len(ground_in) != len(prompts):
            raise ValueError(f"ground_in has {len(ground_in)} queries for {len(prompts)} prompts")
        jobs = []
        for i, prompt in enumerate(prompts):
            grammar = answer_grammar(ground_in[i], mode) if ground_in is not None and self.grammar_style != "none" else None
            for s in range(num_samples):
                temp = temperature if num_samples > 1 else 0.0
                jobs.append((i, s, self._payload(prompt, max_new_tokens=max_new_tokens, temperature=temp, seed=seed + s, grammar=grammar)))
        texts = [[""] * num_samples for _ in prompts]
        finish = [[LENGTH] * num_samples for _ in prompts]
        errors: dict[int, str] = {}
        seconds = 0.0

        def run(job: tuple[int, int, dict[str, Any]]) -> tuple[int, int, str, str, float, str | None]:
            i, s, payload = job
            try:
                text, why, sec = self._one(payload, is_done, max_time)
                return i, s, text, why, sec, None
            except HTTPFailure as exc:
                return i, s, "", LENGTH, 0.0, str(exc)

        with ThreadPoolExecutor(max_workers=min(self.concurrency, max(1, len(jobs)))) as pool:
            for i, s, text, why, sec, err in pool.map(run, jobs):
                texts[i][s], finish[i][s] = text, why
                seconds = max(seconds, sec)
                if err is not None:
                    errors.setdefault(i, err)
        timed_out = any(f == TIMEOUT for row in finish for f in row)
        return Generation(texts, timed_out, seconds, 0, finish, errors)


def build(arg: str, config: RewriterConfig, *, api_key: str | None = None, **_: Any) -> OpenAIGenerator:
    """``openai:http://HOST:PORT/v1``; the key is ``api_key`` or the ``config.api_key_env`` variable."""
    if not arg:
        raise RAQOError("backend 'openai' needs the server's base URL: 'openai:http://127.0.0.1:8080/v1'")
    template = None
    if config.engine_template:
        t = Path(config.engine_template)
        if t.is_dir():
            template = ChatTemplate.from_folder(t)
        elif t.is_file():
            template = ChatTemplate(t.read_text())
        else:
            raise RAQOError(f"engine_template {config.engine_template!r} not found; expected an exported rewriter folder or a .jinja file")
    key = api_key if api_key is not None else os.environ.get(config.api_key_env or "")
    gen = OpenAIGenerator(
        arg,
        model=config.engine_model,
        api_key=key or None,
        template=template,
        grammar=config.engine_grammar,
        timeout_s=config.timeout_s or 60.0,
        max_retries=config.engine_retries,
        concurrency=config.engine_concurrency,
    )
    return gen.load()
