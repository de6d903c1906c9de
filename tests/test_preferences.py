"""The retriever preference lexicon's own logic: aligning a concept with its replacement, and the table's rows."""

from __future__ import annotations

from raqo_core.mpade.preferences import DELETED, KEPT, lexicon_rows, replacements


def test_replacements_align_the_concept_with_the_rewrite():
    q = "can you find a large rose tile left of a cobalt star"
    assert replacements(q, "a large pink square left of a blue star", "rose tile") == "pink square"
    assert replacements(q, "a large pink square left of a blue star", "cobalt") == "blue"
    assert replacements(q, "a large rose tile left of a cobalt star", "can you find") == DELETED
    assert replacements(q, "can you find a large red tile left of a cobalt star", "tile") == KEPT
    assert replacements(q, "anything", "zebra") is None  # not a span of the query


def test_lexicon_rows_count_replace_and_average_gains():
    recs = [
        {"i": 0, "kind": "ambiguous", "query": "a rose tile", "rank": 30, "concepts": ["rose", "Tile"],
         "candidates": [{"text": "a pink square", "score": 0.9}]},
        {"i": 1, "kind": "ambiguous", "query": "a rose orb", "rank": 12, "concepts": ["rose"],
         "candidates": [{"text": "a pink orb", "score": 0.8}]},
        {"i": 2, "kind": "ambiguous", "query": "a rose star", "rank": 50, "concepts": ["rose"], "candidates": []},
        {"i": 3, "kind": "unambiguous", "query": "a red star", "rank": 0, "score": 0.9},
    ]  # fmt: skip
    rows = lexicon_rows(recs, {0: 0, 1: 4})
    assert [r["concept"] for r in rows] == ["rose", "tile"]
    rose = rows[0]
    assert (rose["named"], rose["with_accepted_rewrite"], rose["replacements"]) == (3, 2, [("pink", 2)])
    assert rose["mean_rank_gain"] == (30 - 0 + 12 - 4) / 2
    assert rows[1]["replacements"] == [("square", 1)] and rows[1]["mean_rank_gain"] == 30
    assert lexicon_rows(recs)[0]["mean_rank_gain"] is None  # no ranks given, no gains claimed
