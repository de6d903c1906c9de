"""Diagnostic: ReCoT decoding in which the rewrite may not repeat a one-word concept it named.

The shipped ReCoT model names held-out words but mostly keeps them (`../held_out_fate.txt`). This
asks what recall would be if "detect, then rewrite" were enforced at decoding time: once the
`Concepts:` line is written, the first token of each one-word concept (with and without a leading
space) is banned for the rest of the answer. No training; the adapter is the shipped one.

RAQO_CACHE=/tmp/rc_forbid python -m benchmarks.analysis.forbid_named eval ...args of raqo eval...

A separate RAQO_CACHE keeps these rewrites out of the shared rewrite cache.
"""

from __future__ import annotations

import sys
from typing import Any

from raqo_core.cli import main
from raqo_core.rewriter import grounding
from raqo_core.rewriter.prompt import CONCEPT_SEP, NONE_TOKEN

_Base = grounding.GroundedConcepts


class ForbidNamed(_Base):
    def __init__(self, *a: Any, **k: Any) -> None:
        super().__init__(*a, **k)
        self._banned: dict[int, list[int]] = {}

    def _ban_ids(self, line: str) -> list[int]:
        ids: set[int] = set()
        for c in line.split(CONCEPT_SEP):
            w = c.strip()
            if not w or " " in w or w.lower() == NONE_TOKEN.lower():
                continue
            for form in (" " + w, w):
                t = self.tokenizer.encode(form, add_special_tokens=False)
                if t:
                    ids.add(t[0])
        return sorted(ids)

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        scores = super().__call__(input_ids, scores)
        texts = self.tokenizer.batch_decode(input_ids[:, self.start :], skip_special_tokens=True)
        for row, text in enumerate(texts):
            if "\n" not in text:
                continue
            if row not in self._banned:
                self._banned[row] = self._ban_ids(text.split("\n", 1)[0])
            if self._banned[row]:
                scores[row, self._banned[row]] = float("-inf")
        return scores


def run(argv: list[str]) -> int:
    """``raqo`` with the grounded-concept processor swapped for :class:`ForbidNamed` (for this process only;
    importing the module changes nothing)."""
    real = grounding.GroundedConcepts
    grounding.GroundedConcepts = ForbidNamed  # type: ignore[misc]
    try:
        return main(argv)
    finally:
        grounding.GroundedConcepts = real  # type: ignore[misc]


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
