"""Input checks, batching, progress and truncation warnings shared by every retriever backend."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from raqo_core.errors import RAQOError

logger = logging.getLogger("raqo_core.retriever")


def check_texts(texts: Sequence[str], what: str = "texts") -> list[str]:
    """A non-empty list of strings (a lone string is an error, not a list of characters)."""
    if isinstance(texts, str):
        raise RAQOError(f"{what} must be a list of strings, got a single string {texts[:40]!r}")
    out = list(texts)
    for i, t in enumerate(out):
        if not isinstance(t, str):
            raise RAQOError(f"{what}[{i}] must be a string, got {type(t).__name__}")
    if not out:
        raise RAQOError("encode_texts got an empty list; expected at least one text")
    return out


def check_images(images: Sequence[Any]) -> list[Any]:
    """A non-empty list of PIL images or paths."""
    if isinstance(images, (str, bytes)):
        raise RAQOError(f"images must be a list of PIL images or paths, got a single {type(images).__name__}")
    items = list(images)
    if not items:
        raise RAQOError("encode_images got an empty list; expected at least one image or path")
    return items


def encode_in_batches(
    n: int, batch_size: int, encode: Callable[[int, int], np.ndarray], *, progress: bool = False, desc: str = "encoding"
) -> np.ndarray:
    """``encode(start, end)`` over ``[0, n)`` in batches (a tqdm bar when ``progress`` and more than one batch);
    float32 ``[n, dim]``, C-contiguous."""
    spans = [(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]
    it: Any = spans
    if progress and len(spans) > 1:
        from tqdm.auto import tqdm

        it = tqdm(spans, desc=desc, unit="batch")
    return np.ascontiguousarray(np.concatenate([encode(a, b) for a, b in it]), dtype=np.float32)


class TruncationCheck:
    """Warns once per retriever when texts exceed the text tower's context (they are cut, silently otherwise)."""

    def __init__(self, count_tokens: Callable[[str], int], context_length: int, owner: Any) -> None:
        self.count_tokens = count_tokens
        self.context_length = context_length
        self.owner = owner  # the retriever, named by its spec in the warning
        self.warned = False

    def __call__(self, texts: Sequence[str]) -> None:
        if self.warned:
            return
        long = [t for t in texts if self.count_tokens(t) > self.context_length]
        if long:
            self.warned = True
            logger.warning(
                "%d text(s) exceed the %d-token context of %s and are truncated, e.g. %r",
                len(long),
                self.context_length,
                getattr(self.owner, "spec", type(self.owner).__name__),
                long[0][:80],
            )


def open_clip_token_count(tokenizer: Any) -> Callable[[str], int]:
    """Tokens including start/end markers, for an open_clip tokenizer (what must fit the context)."""
    inner = getattr(tokenizer, "encode", None)
    if inner is None:
        return lambda text: int((tokenizer([text])[0] != 0).sum())
    return lambda text: len(inner(text)) + 2
