"""The retriever interface every RAQO component talks to, and spec-string resolution.

A retriever maps texts and images into one L2-normalised float32 space. Specs:

- ``embedded`` — the small open_clip model trained on the embedded benchmark (ships with RAQO)
- ``open_clip:MODEL/TAG`` — any open_clip model and pretrained tag, e.g. ``open_clip:ViT-B-32/openai``;
  ``open_clip:MODEL`` alone gives random weights; ``open_clip:hf-hub:org/repo`` loads from the HF hub
- a local path — an open_clip checkpoint folder (``open_clip_config.json`` + weights)
- ``onnx:DIR`` — an exported ONNX pair (see :mod:`raqo_core.retriever.onnx_backend`)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from raqo_core.errors import RAQOError

if TYPE_CHECKING:
    import numpy as np

ImageInput = "Image | str | Path"


@runtime_checkable
class Retriever(Protocol):
    """What RAQO needs from a vision-language retriever."""

    spec: str

    @property
    def dim(self) -> int: ...

    @property
    def fingerprint(self) -> str:
        """Identifies model + weights; adapters and caches record it."""
        ...

    def encode_texts(self, texts: Sequence[str], *, batch_size: int | None = None, progress: bool = False) -> np.ndarray:
        """``[n, dim]`` float32, L2-normalised."""
        ...

    def encode_images(self, images: Sequence[Any], *, batch_size: int | None = None, progress: bool = False) -> np.ndarray:
        """``[n, dim]`` float32, L2-normalised; items are PIL images or paths."""
        ...


def check_dim(emb: np.ndarray, expected: int, what: str = "embeddings") -> None:
    """Raise if ``emb`` is not ``[n, expected]``."""
    if emb.ndim != 2 or emb.shape[1] != expected:
        raise RAQOError(f"{what} have shape {tuple(emb.shape)}; expected [n, {expected}] (dimension mismatch)")


def check_texts(texts: Sequence[str], what: str = "texts") -> list[str]:
    if isinstance(texts, str):
        raise RAQOError(f"{what} must be a list of strings, got a single string {texts[:40]!r}")
    out = list(texts)
    for i, t in enumerate(out):
        if not isinstance(t, str):
            raise RAQOError(f"{what}[{i}] must be a string, got {type(t).__name__}")
    return out


def load_retriever(spec: str, *, device: str = "cpu", **kwargs: Any) -> Retriever:
    """Resolve a retriever spec string (see module docstring) into a loaded retriever."""
    if not isinstance(spec, str) or not spec.strip():
        raise RAQOError(f"retriever spec must be a non-empty string, got {spec!r}")
    spec = spec.strip()
    if spec == "embedded":
        from raqo_core.retriever.embedded import load_embedded_retriever

        return load_embedded_retriever(device=device, **kwargs)
    if spec.startswith("open_clip:"):
        from raqo_core.retriever.open_clip_backend import OpenCLIPRetriever

        body = spec[len("open_clip:") :]
        if body.startswith("hf-hub:"):
            return OpenCLIPRetriever(body, device=device, **kwargs)
        model, _, tag = body.partition("/")
        if not model:
            raise RAQOError(f"retriever spec {spec!r} names no model; expected 'open_clip:MODEL/TAG', e.g. open_clip:ViT-B-32/openai")
        return OpenCLIPRetriever(model, pretrained=tag or None, device=device, **kwargs)
    if spec.startswith("onnx:"):
        from raqo_core.retriever.onnx_backend import OnnxCLIPRetriever

        return OnnxCLIPRetriever(spec[len("onnx:") :], device=device, **kwargs)
    path = Path(spec)
    if path.exists():
        from raqo_core.retriever.open_clip_backend import OpenCLIPRetriever

        return OpenCLIPRetriever.from_local(path, device=device, **kwargs)
    raise RAQOError(
        f"unknown retriever spec {spec!r}; expected 'embedded', 'open_clip:MODEL/TAG', 'onnx:DIR' "
        "or the path of a local open_clip checkpoint folder"
    )


_SHARED: dict[tuple[str, str], Retriever] = {}


def shared_retriever(spec: str, device: str = "cpu") -> Retriever:
    """Load ``spec`` once per process and share it (framework components that embed texts and
    images with the same model should not hold two copies of it)."""
    key = (spec, device)
    if key not in _SHARED:
        _SHARED[key] = load_retriever(spec, device=device)
    return _SHARED[key]
