"""``llamacpp``: llama-cpp-python in-process on a GGUF file (the fast CPU path).

``backend="llamacpp"`` exports the config's model + adapter to a Q8_0 GGUF once (into the RAQO
cache) and loads it; ``llamacpp:f16`` picks F16; ``llamacpp:/path/model.gguf`` loads a GGUF written
by ``raqo export-rewriter``. Greedy decoding with no repetition penalty (transformers' defaults),
grounded concepts through a per-query GBNF grammar, and the time limit checked per token from the
moment this caller holds the model. The grammar constrains the concept line only: once that line
ends, decoding continues from the same KV state without it (llama-cpp-python checks a grammar
against the whole vocabulary at every step, which doubled the cost of a rewrite's free-text tokens). llama.cpp keeps the previous prompt's KV state and reuses its
longest common prefix, so the shared system prompt is computed once, not once per query.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from raqo_core.errors import RAQOError
from raqo_core.rewriter.engines.base import LENGTH, STOP, TIMEOUT, Generation
from raqo_core.rewriter.engines.template import ChatTemplate

if TYPE_CHECKING:
    from raqo_core.rewriter.rewriter import RewriterConfig

INSTALL_HINT = "the llamacpp backend needs llama-cpp-python: pip install 'raqo[llamacpp]' (it compiles llama.cpp, ~5 min on 2 cores)"


def import_llama_cpp() -> Any:
    try:
        import llama_cpp
    except ImportError as exc:
        raise RAQOError(f"{INSTALL_HINT} ({exc})") from None
    return llama_cpp


def gguf_metadata(path: str | Path) -> dict[str, Any]:
    """A GGUF's scalar metadata (strings and numbers), read without loading the weights."""
    import gguf

    try:
        reader = gguf.GGUFReader(str(path))
    except (OSError, ValueError) as exc:
        raise RAQOError(f"cannot read GGUF file {str(path)!r}: {exc}") from exc
    out: dict[str, Any] = {}
    for name, field in reader.fields.items():
        if field.types and field.types[0] != gguf.GGUFValueType.ARRAY:
            try:
                out[name] = field.contents()
            except Exception:  # noqa: BLE001 - an odd field is not worth failing a load for
                continue
    return out


class LlamaCppGenerator:
    """One ``llama_cpp.Llama`` behind a lock (a llama.cpp context is not thread-safe)."""

    def __init__(
        self,
        path: str | Path,
        *,
        n_threads: int | None = None,
        n_ctx: int = 2048,
        name: str = "",
        adapter_meta: dict[str, Any] | None = None,
    ) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise RAQOError(f"GGUF file {str(self.path)!r} not found; expected a file written by `raqo export-rewriter --format gguf`")
        meta = gguf_metadata(self.path)
        self.gguf_meta = meta
        self.name = name or self.path.stem
        self.tag = f"llamacpp:{str(meta.get('general.file_type', '?'))}@{_file_digest(self.path)}"
        self.adapter_meta = dict(adapter_meta or {k[5:]: v for k, v in meta.items() if k.startswith("raqo.")})
        self.n_threads = n_threads or min(8, os.cpu_count() or 1)
        self.n_ctx = n_ctx
        self._llm: Any = None
        self._template: ChatTemplate | None = None
        self._lock = threading.Lock()

    def load(self) -> LlamaCppGenerator:
        if self._llm is None:
            llama_cpp = import_llama_cpp()
            try:
                llm = llama_cpp.Llama(model_path=str(self.path), n_ctx=self.n_ctx, n_threads=self.n_threads, verbose=False)
            except (ValueError, RuntimeError) as exc:
                raise RAQOError(f"llama.cpp cannot load {str(self.path)!r}: {exc}") from exc
            vocab = llm.metadata
            bos = llm.detokenize([llm.token_bos()], special=True).decode("utf-8", "replace") if llm.token_bos() >= 0 else ""
            eos = llm.detokenize([llm.token_eos()], special=True).decode("utf-8", "replace") if llm.token_eos() >= 0 else ""
            self._template = ChatTemplate(vocab.get("tokenizer.chat_template"), bos_token=bos, eos_token=eos)
            self._llm = llm
        return self

    def chat_prompt(self, messages: list[dict[str, str]], prefix: str = "") -> str:
        self.load()
        assert self._template is not None
        return self._template.render(messages, prefix)

    def _stream(
        self,
        prompt: str,
        params: dict[str, Any],
        *,
        t0: float,
        text: str,
        stop_at_newline: bool,
        is_done: Callable[[str], bool] | None,
        max_time: float | None,
    ) -> tuple[str, str | None, int]:
        """Stream one completion of ``prompt`` (``text`` is what came before it); why it ended, or ``None``
        when it stopped at the end of the concept line (``stop_at_newline``) and should go on."""
        n = 0
        stream = self._llm.create_completion(prompt, **params)
        try:
            for chunk in stream:
                choice = chunk["choices"][0]
                text += choice.get("text") or ""
                n += 1
                if choice.get("finish_reason"):
                    return text, STOP if choice["finish_reason"] == "stop" else LENGTH, n
                if is_done is not None and is_done(text):
                    return text, STOP, n
                if max_time is not None and time.perf_counter() - t0 >= max_time:
                    return text, TIMEOUT, n
                if stop_at_newline and "\n" in text:
                    return text, None, n
        finally:
            stream.close()
        return text, LENGTH, n

    def _one(
        self,
        prompt: str,
        *,
        max_new_tokens: int,
        is_done: Callable[[str], bool] | None,
        max_time: float | None,
        temperature: float,
        seed: int,
        grammar: Any,
    ) -> tuple[str, str, int]:
        greedy = temperature <= 0
        params: dict[str, Any] = {
            "max_tokens": max_new_tokens,
            "temperature": 0.0 if greedy else temperature,
            "top_p": 1.0 if greedy else 0.95,
            "top_k": 0,
            "min_p": 0.0,
            "repeat_penalty": 1.0,
            "seed": seed,
            "stream": True,
        }
        t0 = time.perf_counter()
        if grammar is None:
            text, why, n = self._stream(prompt, params, text="", stop_at_newline=False, t0=t0, is_done=is_done, max_time=max_time)
            return text, why or LENGTH, n
        # The concept line under the grammar, then the rest free, continuing from the same KV state.
        line, why, n = self._stream(
            prompt, {**params, "grammar": grammar}, text="", stop_at_newline=True, t0=t0, is_done=is_done, max_time=max_time
        )
        if why is not None:
            return line, why, n
        rest = {**params, "max_tokens": max(1, max_new_tokens - n)}
        text, why, m = self._stream(prompt + line, rest, text=line, stop_at_newline=False, t0=t0, is_done=is_done, max_time=max_time)
        return text, why or LENGTH, n + m

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
        """Prompts run one after another (one context); each has the whole ``max_time`` to itself."""
        self.load()
        llama_cpp = import_llama_cpp()
        from raqo_core.rewriter.engines.grammar import answer_grammar, concept_line_grammar

        if ground_in is not None and len(ground_in) != len(prompts):
            raise ValueError(f"ground_in has {len(ground_in)} queries for {len(prompts)} prompts")
        texts: list[list[str]] = []
        finish: list[list[str]] = []
        total, new_tokens, timed_out = 0.0, 0, False
        for i, prompt in enumerate(prompts):
            grammar = None
            if ground_in is not None and mode != "direct":
                # recot: the concept line only (the rewrite is free); detect: the whole answer is that line
                text = concept_line_grammar(ground_in[i]) if mode == "recot" else answer_grammar(ground_in[i], mode)
                grammar = llama_cpp.LlamaGrammar.from_string(text, verbose=False)
            row_t, row_f = [], []
            for s in range(num_samples):
                with self._lock:
                    t0 = time.perf_counter()
                    text, why, n = self._one(
                        prompt,
                        max_new_tokens=max_new_tokens,
                        is_done=is_done,
                        max_time=max_time,
                        temperature=temperature if num_samples > 1 else 0.0,
                        seed=seed + s,
                        grammar=grammar,
                    )
                    total += time.perf_counter() - t0
                row_t.append(text)
                row_f.append(why)
                new_tokens = max(new_tokens, n)
                timed_out = timed_out or why == TIMEOUT
            texts.append(row_t)
            finish.append(row_f)
        return Generation(texts, timed_out, total, new_tokens, finish)


def _file_digest(path: Path) -> str:
    """A cheap identity for a (large) GGUF: size + sha256 of its first and last MiB."""
    import hashlib

    h = hashlib.sha256(str(path.stat().st_size).encode())
    with path.open("rb") as fh:
        h.update(fh.read(1 << 20))
        fh.seek(max(0, path.stat().st_size - (1 << 20)))
        h.update(fh.read(1 << 20))
    return h.hexdigest()[:12]


def build(arg: str, config: RewriterConfig, **_: Any) -> LlamaCppGenerator:
    """``llamacpp`` / ``llamacpp:q8_0`` / ``llamacpp:f16``: the config's model + adapter, exported once;
    ``llamacpp:PATH.gguf``: that file (its ``raqo.*`` metadata must match the config's adapter, if one is set)."""
    from raqo_core.rewriter.export import GGUF_TYPES, adapter_digest, cached_gguf

    import_llama_cpp()  # fail fast with the install hint, before any export
    if arg in ("", *GGUF_TYPES):
        path = cached_gguf(config.model, config.adapter, config.mode, arg or "q8_0")
        name = _base_name(config.model)
    else:
        path = Path(arg).expanduser()
        name = ""
    gen = LlamaCppGenerator(path, n_threads=config.engine_threads, name=name)
    if arg not in ("", *GGUF_TYPES) and config.adapter:
        want, have = adapter_digest(config.adapter), gen.adapter_meta.get("adapter_sha256")
        if have and want != have:
            raise RAQOError(
                f"GGUF {str(path)!r} was exported from adapter sha256 {have}, but the rewriter is configured with adapter "
                f"{config.adapter!r} (sha256 {want}); export that adapter, or set adapter=None to use the GGUF as it is"
            )
    return gen.load()


def _base_name(model: str) -> str:
    from raqo_core.rewriter.models import resolve_base

    return resolve_base(model)[1]
