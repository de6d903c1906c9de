"""Generator engines for the rewriter, chosen by one spec string (``RewriterConfig.backend``).

=========================  ===========================================================
``hf``                     in-process transformers (+ peft); the default
``llamacpp[:f16|:q8_0]``   llama-cpp-python in-process; the model + adapter exported once
``llamacpp:FILE.gguf``     llama-cpp-python on a GGUF from ``raqo export-rewriter``
``openai:BASE_URL``        any OpenAI-compatible server: vLLM, llama.cpp's servers, Ollama, TGI
=========================  ===========================================================

A new engine is one module with a ``build(arg, config, **secrets) -> Generator`` function and one
:func:`register_engine` line (here, or in a third-party package at import time).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from raqo_core.errors import RAQOError
from raqo_core.registry import Registry
from raqo_core.rewriter.engines.base import Generation, Generator

if TYPE_CHECKING:
    from raqo_core.rewriter.rewriter import RewriterConfig

EngineFactory = Callable[..., Generator]
ENGINES: Registry[EngineFactory] = Registry("engine")


def register_engine(name: str, factory: str | EngineFactory) -> None:
    """Register ``name`` → ``factory`` (a callable, or ``"module:function"`` imported on first use)."""
    ENGINES.register(name, factory)


register_engine("hf", "raqo_core.rewriter.engines.hf:build")
register_engine("llamacpp", "raqo_core.rewriter.engines.llamacpp:build")
register_engine("openai", "raqo_core.rewriter.engines.openai:build")


def engine_names() -> tuple[str, ...]:
    return ENGINES.names()


def parse_backend(spec: str) -> tuple[str, str]:
    """``"llamacpp:/m.gguf"`` → ``("llamacpp", "/m.gguf")``; errors name the spec and the engines."""
    if not isinstance(spec, str) or not spec.strip():
        raise RAQOError(f"backend must be a non-empty string such as 'hf', got {spec!r}; expected one of {engine_names()}")
    name, _, arg = spec.strip().partition(":")
    if name not in ENGINES:
        raise RAQOError(f"unknown rewriter backend {name!r} (from {spec!r}); expected one of {engine_names()}")
    return name, arg


def build_engine(config: RewriterConfig, **secrets: Any) -> Generator:
    """Build (and load) the engine ``config.backend`` names. Misconfiguration raises here."""
    name, arg = parse_backend(config.backend)
    return ENGINES.get(name)(arg, config, **secrets)


__all__ = ["Generation", "Generator", "build_engine", "engine_names", "parse_backend", "register_engine"]
