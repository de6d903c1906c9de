"""Retriever specs → loaded retrievers: one registry, open to third-party backends.

Built-in specs:

- ``embedded`` — the small open_clip model trained on the embedded benchmark (ships with RAQO)
- ``open_clip:MODEL/TAG`` — any open_clip model and pretrained tag, e.g. ``open_clip:ViT-B-32/openai``;
  ``open_clip:MODEL`` alone gives random weights; ``open_clip:hf-hub:org/repo`` loads from the HF hub
- ``onnx:DIR`` — an exported ONNX pair (``raqo export-onnx``)
- a local path — an open_clip checkpoint folder (``open_clip_config.json`` + weights)

A new backend is one module with ``load(body, *, device, **kwargs) -> Retriever`` plus one line::

    register_retriever("mybackend", "mypackage.retriever:load")   # spec "mybackend:ARGS" → load("ARGS", device=…)

or an entry point in the ``raqo.retrievers`` group (``mybackend = "mypackage.retriever:load"``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from raqo_core.errors import RAQOError
from raqo_core.registry import Registry

if TYPE_CHECKING:
    from raqo_core.retriever.base import Retriever

Loader = Callable[..., "Retriever"]
LOADERS: Registry[Loader] = Registry("retriever backend", check=lambda n: ":" not in n, entry_points="raqo.retrievers")
_FORMS = {"open_clip": "open_clip:MODEL/TAG", "onnx": "onnx:DIR"}  # how error messages show the built-in specs


def register_retriever(prefix: str, loader: str | Loader) -> None:
    """Spec ``PREFIX`` or ``PREFIX:BODY`` → ``loader(BODY, device=…, **kwargs)``; ``loader`` may be ``"module:function"``."""
    LOADERS.register(prefix, loader)


register_retriever("embedded", "raqo_core.retriever.embedded:load")
register_retriever("open_clip", "raqo_core.retriever.open_clip_backend:load")
register_retriever("onnx", "raqo_core.retriever.onnx_backend:load")


def retriever_prefixes() -> tuple[str, ...]:
    return LOADERS.names()


def load_retriever(spec: str, *, device: str = "cpu", **kwargs: Any) -> Retriever:
    """Resolve a retriever spec string (see the module docstring) into a loaded retriever."""
    if not isinstance(spec, str) or not spec.strip():
        raise RAQOError(f"retriever spec must be a non-empty string, got {spec!r}")
    spec = spec.strip()
    prefix, sep, body = spec.partition(":")
    if prefix in LOADERS and (sep or not Path(spec).exists()):
        return LOADERS.get(prefix)(body, device=device, **kwargs)
    if Path(spec).exists():
        return LOADERS.get("open_clip")(f"local-dir:{spec}", device=device, **kwargs)
    forms = ", ".join(f"'{_FORMS.get(p, p + ':…')}'" for p in LOADERS.names() if p != "embedded")
    raise RAQOError(f"unknown retriever spec {spec!r}; expected 'embedded', {forms} or the path of a local open_clip checkpoint folder")


_SHARED: dict[tuple[str, str], Retriever] = {}
_SHARED_LOCK = threading.Lock()


def shared_retriever(spec: str, device: str = "cpu") -> Retriever:
    """Load ``spec`` once per process and share it (framework components that embed texts and images
    with the same model should not hold two copies). Concurrent first calls load it once."""
    key = (spec, device)
    with _SHARED_LOCK:
        if key not in _SHARED:
            _SHARED[key] = load_retriever(spec, device=device)
        return _SHARED[key]
