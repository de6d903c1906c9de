"""Word-level text helpers shared by MPADE, its agents and the lexicon: one tokeniser, one stopword list."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

WORD = re.compile(r"[a-z][a-z'\-]*")
STOPWORDS = frozenset(["a", "an", "the", "of", "to", "in", "on", "at", "by", "for", "with", "and", "or", "is", "are", "be", "it", "its"])


def tokenize_words(text: str) -> list[str]:
    """Lower-cased words (letters, apostrophes, hyphens)."""
    return WORD.findall(text.lower())


def caption_vocabulary(captions: Sequence[str], min_count: int = 3) -> Counter[str]:
    """Words of the retriever's training captions, with counts (``min_count`` or more)."""
    c = Counter(w for t in captions for w in tokenize_words(t))
    return Counter({w: n for w, n in c.items() if n >= min_count})


def find_span(words: Sequence[str], parts: Sequence[str]) -> int | None:
    """Where ``parts`` first occurs as consecutive items of ``words`` (compared lower-cased), or None."""
    low, want = [w.lower() for w in words], [p.lower() for p in parts]
    if not want:
        return None
    return next((i for i in range(len(low) - len(want) + 1) if low[i : i + len(want)] == want), None)
