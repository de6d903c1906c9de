"""Grounded concept decoding on the shipped embedded adapter (real SmolLM2 + LoRA, greedy)."""

from __future__ import annotations

import pytest

from raqo_core.rewriter.grounding import concept_line_fits
from raqo_core.rewriter.rewriter import Rewriter

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# Queries for which the shipped adapter, left unconstrained, names words that are not in them
# ("orbit" for "orb", "solid" for "filled") — from its val-split rewrites.
QUERIES = [
    "a photo where there is a tiny solid amber pyramid below a tiny solid green orb",
    "a little filled emerald diamond to the west of a small hollow scarlet square, i think",
]


def _line(concepts: list[str]) -> str:
    return " " + "; ".join(concepts) + "\n"


def test_shipped_adapter_concepts_quote_the_query_only_when_grounded():
    free = Rewriter(adapter="auto", timeout_s=None, grounded_concepts=False).load().rewrite_batch(QUERIES)
    grounded = Rewriter(adapter="auto", timeout_s=None).load().rewrite_batch(QUERIES)
    assert all(r.concepts for r in free + grounded)  # both detect concepts in both queries
    assert not any(concept_line_fits(_line(r.concepts), q) for r, q in zip(free, QUERIES, strict=True))
    for r, q in zip(grounded, QUERIES, strict=True):
        assert concept_line_fits(_line(r.concepts), q), r.concepts
        assert all(c.lower() in q.lower() for c in r.concepts)
    assert "orb" in grounded[0].concepts and "orbit" in free[0].concepts
    assert [r.original_query for r in grounded] == QUERIES  # the user's query is always kept beside the rewrite
