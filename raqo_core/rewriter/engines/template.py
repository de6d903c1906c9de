"""Rendering the rewriter's chat prompt, the same way on every engine.

Training builds its prompts with :func:`render_chat` (the tokenizer's own template), so train and
inference agree. Engines without a transformers tokenizer (llama.cpp, an HTTP server) render the
same Jinja template with :class:`ChatTemplate` (read from a GGUF's ``tokenizer.chat_template`` or
an exported folder), exactly as transformers does: a sandboxed environment with ``trim_blocks``
and ``lstrip_blocks``. The prompt always ends with the assistant turn prefilled (``Concepts:``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from raqo_core.errors import RAQOError

# SmolLM2's and Qwen's ChatML template: what an OpenAI-compatible server serving an exported
# embedded rewriter expects when no template is given.
CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def plain_template(messages: list[dict[str, str]], bos_token: str = "") -> str:
    """The fallback for base models without a chat template (``Role: content`` lines), after ``bos_token``."""
    return bos_token + "".join(f"{m['role'].capitalize()}: {m['content']}\n" for m in messages) + "Assistant:"


def leading_bos(tokenizer: Any) -> str:
    """The BOS text a tokenizer puts before every text it encodes by default ("" when it puts none).

    RAQO tokenizes rendered prompts with ``add_special_tokens=False``, as transformers does after
    ``apply_chat_template`` (whose templates write ``{{ bos_token }}`` themselves), so the plain template must write it
    too: Gemma, Llama and Mistral base models expect it, and llama.cpp adds it to the same prompt by itself.
    """
    bos, bos_id = getattr(tokenizer, "bos_token", None), getattr(tokenizer, "bos_token_id", None)
    if not bos or bos_id is None:
        return ""
    try:
        ids = tokenizer("a")["input_ids"]
    except Exception:  # a tokenizer that cannot encode a plain string: no BOS to learn from it
        return ""
    return str(bos) if len(ids) and ids[0] == bos_id else ""


def render_chat(tokenizer: Any, messages: list[dict[str, str]], prefix: str = "") -> str:
    """Render a chat with a transformers tokenizer's template (plain fallback, after the BOS the tokenizer would add)
    and prefill ``prefix``."""
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    else:
        text = plain_template(messages, leading_bos(tokenizer))
    return str(text) + prefix


class ChatTemplate:
    """A Jinja chat template rendered like transformers' ``apply_chat_template``; ``None`` → plain."""

    def __init__(self, source: str | None, *, bos_token: str = "", eos_token: str = "") -> None:
        self.source = source
        self.bos_token, self.eos_token = bos_token, eos_token
        self._template: Any = None
        if source:
            from jinja2 import TemplateError
            from jinja2.sandbox import ImmutableSandboxedEnvironment

            def raise_exception(message: str) -> None:
                raise RAQOError(f"chat template error: {message}")

            env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
            env.filters["tojson"] = lambda x, **kw: json.dumps(x, ensure_ascii=False, **kw)
            env.globals["raise_exception"] = raise_exception
            try:
                self._template = env.from_string(source)
            except TemplateError as exc:
                raise RAQOError(f"cannot parse the chat template: {exc}") from exc

    @classmethod
    def from_folder(cls, folder: str | Path) -> ChatTemplate:
        """From an exported / Hugging Face model folder (``chat_template.jinja`` or ``tokenizer_config.json``)."""
        d = Path(folder)
        cfg_path = d / "tokenizer_config.json"
        cfg = json.loads(cfg_path.read_text()) if cfg_path.is_file() else {}
        source = (d / "chat_template.jinja").read_text() if (d / "chat_template.jinja").is_file() else cfg.get("chat_template")

        def tok(name: str) -> str:
            v = cfg.get(name) or ""
            return str(v.get("content", "") if isinstance(v, dict) else v)

        if not source and not cfg:
            raise RAQOError(f"{str(d)!r} has neither chat_template.jinja nor tokenizer_config.json; expected an exported rewriter folder")
        return cls(source, bos_token=tok("bos_token"), eos_token=tok("eos_token"))

    def render(self, messages: list[dict[str, str]], prefix: str = "") -> str:
        if self._template is None:
            return plain_template(messages) + prefix
        text = self._template.render(messages=messages, add_generation_prompt=True, bos_token=self.bos_token, eos_token=self.eos_token)
        return str(text) + prefix
