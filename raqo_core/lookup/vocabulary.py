"""What this retriever knows: the word counts and word slots of the captions it was trained on.

A word is *strong* when the retriever saw it often (count at least ``weak_fraction`` × the 90th-percentile
count of content words, the rule MPADE's offline agent edits by) and *weak* otherwise. Each word's *slot* is
the distribution of its left and right neighbours in the captions: a replacement must fill the slot the weak
word stands in, so "orb" may become "circle", never "left".
"""

from __future__ import annotations

import json
import os
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from raqo_core.errors import RAQOError
from raqo_core.text import STOPWORDS, tokenize_words

FORMAT = "raqo-retriever-vocabulary/1"
MAX_FILE_BYTES = 64 * 1024 * 1024  # a vocabulary file larger than this is refused, not read
START, END = "<s>", "</s>"


def slot_counts(captions: Iterable[str], words: set[str], *, min_count: int = 1) -> dict[str, dict[str, int]]:
    """Each of ``words``' left (``"L:prev"``) and right (``"R:next"``) neighbours in ``captions``, with counts
    (``min_count`` or more; ``<s>``/``</s>`` mark the caption's edges)."""
    slots: dict[str, Counter[str]] = defaultdict(Counter)
    for text in captions:
        ws = [START, *tokenize_words(text), END]
        for i in range(1, len(ws) - 1):
            if ws[i] in words:
                slots[ws[i]]["L:" + ws[i - 1]] += 1
                slots[ws[i]]["R:" + ws[i + 1]] += 1
    return {w: {k: v for k, v in slots[w].items() if v >= min_count} for w in words if w in slots}


@dataclass
class RetrieverVocabulary:
    """Word counts plus left/right-neighbour counts (``slots[word] = {"L:prev": n, "R:next": n}``)."""

    counts: dict[str, int]
    slots: dict[str, dict[str, int]] = field(default_factory=dict)
    weak_fraction: float = 0.2
    source: str = ""

    def __post_init__(self) -> None:
        if not 0.0 <= self.weak_fraction <= 1.0:
            raise RAQOError(f"weak_fraction must be in [0, 1], got {self.weak_fraction}")
        bad = next((w for w, n in self.counts.items() if not isinstance(w, str) or not isinstance(n, int) or n < 0), None)
        if bad is not None:
            raise RAQOError(f"vocabulary counts must map words to non-negative integers, got {bad!r}: {self.counts[bad]!r}")
        content = sorted(n for w, n in self.counts.items() if w not in STOPWORDS)
        p90 = content[min(len(content) - 1, int(0.9 * len(content)))] if content else 0
        self.strong_count = max(1.0, self.weak_fraction * p90)
        self._totals = {w: sum(v for k, v in s.items() if k.startswith("L:")) for w, s in self.slots.items()}

    # -- building and files -------------------------------------------------------------
    @classmethod
    def from_captions(
        cls, captions: Iterable[str], *, min_count: int = 3, weak_fraction: float = 0.2, source: str = ""
    ) -> RetrieverVocabulary:
        captions = list(captions)
        counts = Counter(w for text in captions for w in tokenize_words(text))
        keep = {w: n for w, n in counts.items() if n >= min_count}
        if not keep:
            raise RAQOError(f"no word occurs {min_count}+ times in the captions given: a vocabulary needs training captions")
        slots = slot_counts(captions, set(keep), min_count=max(1, min_count))  # rarer neighbours are noise, and make the file large
        return cls(keep, slots, weak_fraction, source)

    @classmethod
    def from_manifest(cls, manifest: Any, split: str = "train", **kwargs: Any) -> RetrieverVocabulary:
        """From the captions of ``manifest``'s ``split`` (what the retriever was trained or adapted on)."""
        captions = [c for r in manifest.split(split) for c in r.captions]
        if not captions:
            raise RAQOError(f"the manifest's {split!r} split has no captions; a retriever vocabulary needs them")
        return cls.from_captions(captions, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "weak_fraction": self.weak_fraction, "source": self.source, "counts": self.counts, "slots": self.slots}

    def save(self, path: str | os.PathLike[str]) -> Path:
        from raqo_core.io import atomic_write_json

        return atomic_write_json(path, self.to_dict(), indent=None)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> RetrieverVocabulary:
        """Read a saved vocabulary; a missing, oversized or malformed file raises naming the file and the problem."""
        p = Path(path)
        if not p.is_file():
            raise RAQOError(f"retriever vocabulary {str(p)!r} does not exist (build one with `raqo lookup build`)")
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise RAQOError(f"retriever vocabulary {str(p)!r} is {size / 1e6:.0f} MB, over the {MAX_FILE_BYTES / 1e6:.0f} MB limit")
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RAQOError(f"retriever vocabulary {str(p)!r} is not valid JSON: {exc}") from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise RAQOError(
                f"retriever vocabulary {str(p)!r}: expected format {FORMAT!r}, got {data.get('format') if isinstance(data, dict) else type(data).__name__!r}"
            )
        counts, slots = data.get("counts"), data.get("slots", {})
        if not isinstance(counts, dict) or not counts or not isinstance(slots, dict):
            raise RAQOError(f"retriever vocabulary {str(p)!r}: 'counts' must be a non-empty object of word → count")
        return cls(counts, slots, float(data.get("weak_fraction", 0.2)), str(data.get("source", "")))

    # -- questions ----------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.counts)

    def count(self, word: str) -> int:
        return self.counts.get(word, 0)

    def is_strong(self, word: str) -> bool:
        """Every word of ``word`` (a word or a phrase) is a stopword or one the retriever saw often."""
        ws = word.split()
        return bool(ws) and all(w in STOPWORDS or self.count(w) >= self.strong_count for w in ws)

    def is_weak(self, word: str) -> bool:
        """A content word the retriever saw rarely or never: what a look-up may replace."""
        return word not in STOPWORDS and self.count(word) < self.strong_count

    def is_unknown(self, word: str) -> bool:
        """A content word the retriever never saw in training (not in the vocabulary at all)."""
        return word not in STOPWORDS and word not in self.counts

    def strong_words(self) -> list[str]:
        return sorted(w for w in self.counts if w not in STOPWORDS and self.count(w) >= self.strong_count)

    def neighbour_share(self, word: str, side: str, neighbour: str) -> float:
        """How often ``neighbour`` stands on ``side`` (``"L"``/``"R"``) of ``word`` in the captions (0..1)."""
        total = self._totals.get(word, 0)
        return self.slots.get(word, {}).get(f"{side}:{neighbour}", 0) / total if total else 0.0

    def fit(self, words: Sequence[str], left: str | None, right: str | None) -> float | None:
        """How well the phrase ``words`` fits between ``left`` and ``right`` (None: the caption's edge): the smaller
        share of those neighbours beside its first and last word in the training captions (0..1). Only a neighbour
        the retriever knows well (a strong word, a stopword or the edge) is evidence; None when neither is."""
        if not words:
            return 0.0
        sides = [
            self.neighbour_share(w, side, n or edge)
            for w, side, n, edge in ((words[0], "L", left, START), (words[-1], "R", right, END))
            if n is None or self.is_strong(n)
        ]
        return min(sides) if sides else None

    def slot_similarity(self, a: str, b: str) -> float:
        """Cosine of two words' neighbour distributions: 1.0 for words that fill the same slots."""
        va, vb = self.slots.get(a), self.slots.get(b)
        if not va or not vb:
            return 0.0
        dot = sum(x * vb.get(k, 0) for k, x in va.items())
        na = sum(x * x for x in va.values()) ** 0.5
        nb = sum(x * x for x in vb.values()) ** 0.5
        return float(dot / (na * nb)) if na and nb else 0.0

    def describe(self) -> dict[str, Any]:
        return {"words": len(self), "strong": len(self.strong_words()), "strong_count": round(self.strong_count, 1), "source": self.source}
