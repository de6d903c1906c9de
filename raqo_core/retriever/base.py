"""The retriever interface every RAQO component talks to.

A retriever maps texts and images into one L2-normalised float32 space. Spec strings and the
backends behind them live in :mod:`raqo_core.retriever.registry`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from raqo_core.errors import RAQOError

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

    ImageInput = Image.Image | str | os.PathLike[str]


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

    def encode_images(self, images: Sequence[ImageInput], *, batch_size: int | None = None, progress: bool = False) -> np.ndarray:
        """``[n, dim]`` float32, L2-normalised; items are PIL images or paths."""
        ...


def check_dim(emb: np.ndarray, expected: int, what: str = "embeddings") -> None:
    """Raise if ``emb`` is not ``[n, expected]``."""
    if emb.ndim != 2 or emb.shape[1] != expected:
        raise RAQOError(f"{what} have shape {tuple(emb.shape)}; expected [n, {expected}] (dimension mismatch)")
