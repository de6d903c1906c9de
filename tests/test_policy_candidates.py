"""On-policy PRO candidates: target lookup, merging, scoring by the retriever, resume from disk."""

from __future__ import annotations

import json

import pytest

from raqo_core.errors import RAQOError
from raqo_core.mpade.records import Candidate, pro_from_json
from raqo_core.training.policy import add_policy_candidates, merge_candidates, target_images


def _list(query, text, score):
    return pro_from_json({"query": query, "concepts": ["x"], "candidates": [{"text": text, "score": score}]}, min_len=1)


def test_merge_keeps_mpade_entries_dedupes_and_sorts_best_first():
    mpade = [Candidate("a red circle", 0.9), Candidate("a red orb", 0.7)]
    out = merge_candidates(mpade, [("a red orb", 0.95), ("a blue orb", 0.5), ("", 0.99), ("a red disk", 0.8), ("a blue orb", 0.6)])
    assert [c.text for c in out] == ["a red circle", "a red disk", "a red orb", "a blue orb"]
    assert [c.source for c in out] == [None, "policy", None, "policy"]  # MPADE's "a red orb" wins over the duplicate
    assert out[3].score == 0.5 and mpade == [Candidate("a red circle", 0.9), Candidate("a red orb", 0.7)]


def test_target_images_drop_texts_shared_by_two_images(tiny_bench):
    from raqo_core.data.manifest import load_manifest

    m = load_manifest(tiny_bench)
    t = target_images(m, "train", "user")
    recs = m.split("train")
    counts: dict[str, int] = {}
    for r in recs:
        for q in set(r.texts("user")):
            counts[q] = counts.get(q, 0) + 1
    assert set(t) == {q for q, c in counts.items() if c == 1}
    q, rec = next(iter(t.items()))
    assert q in rec.texts("user") and rec.split == "train"


def test_policy_rewrites_are_scored_against_the_target_image_and_cached(tiny_bench, random_retriever, tiny_lm_dir, tmp_path):
    from raqo_core.data.manifest import load_manifest

    m = load_manifest(tiny_bench)
    recs = m.split("train")[:3]
    lists = [_list(r.texts("user")[0], r.texts("captions")[0], 0.5) for r in recs]
    lists.append(_list("a query no image has", "kept", 0.1))
    out_file = tmp_path / "D_PRO.policy.jsonl"
    kw = dict(base=str(tiny_lm_dir), adapter=None, retriever=random_retriever, manifest=m, split="train", register="user")
    got = add_policy_candidates(lists, out_file, samples=2, **kw)
    assert [g.query for g in got] == [x.query for x in lists]
    assert got[-1].candidates == lists[-1].candidates  # no target image: MPADE's list only
    img = random_retriever.encode_images([m.image_path(r) for r in recs])
    added = 0
    for g, e in zip(got, img, strict=False):  # the last list has no image
        scores = [c.score for c in g.candidates]
        assert scores == sorted(scores, reverse=True)
        for c in g.candidates:
            if c.source == "policy":
                added += 1
                want = float(random_retriever.encode_texts([c.text])[0] @ e)
                assert c.score == pytest.approx(want, abs=1e-5)
    assert added >= 1
    assert [pro_from_json(json.loads(line), min_len=1) for line in out_file.read_text().splitlines()] == got
    stats = json.loads(out_file.with_suffix(".json").read_text())
    assert stats["lists"] == 4 and stats["with_target"] == 3 and stats["scored"] <= 6 and stats["unique_added"] == added
    import torch

    assert stats["device"] == ("cuda" if torch.cuda.is_available() else "cpu")  # generates where torch finds a GPU
    # resume: the file is reused, nothing is generated again (a bad base would fail to load)
    assert add_policy_candidates(lists, out_file, samples=2, **{**kw, "base": str(tmp_path / "missing")}) == got
    with pytest.raises(RAQOError, match="policy samples must be >= 1, got 0"):
        add_policy_candidates(lists, tmp_path / "other.jsonl", samples=0, **kw)


def test_policy_config_is_validated():
    from raqo_core.training.stages.pro import PROConfig

    with pytest.raises(RAQOError, match="policy_samples must be >= 0 and policy_temperature > 0, got -1, 0.8"):
        PROConfig(policy_samples=-1)
    with pytest.raises(RAQOError, match="got 2, 0.0"):
        PROConfig(policy_samples=2, policy_temperature=0.0)


def test_contrastive_policy_scores_use_the_whole_split_as_gallery(tiny_bench, random_retriever, tiny_lm_dir, tmp_path):
    import numpy as np

    from raqo_core.data.manifest import load_manifest
    from raqo_core.mpade.assessment import target_scores

    m = load_manifest(tiny_bench)
    recs = m.split("train")
    lists = [_list(r.texts("user")[0], r.texts("captions")[0], -0.01) for r in recs[:2]]
    out_file = tmp_path / "D_PRO.policy.jsonl"
    kw = dict(base=str(tiny_lm_dir), adapter=None, retriever=random_retriever, manifest=m, split="train", register="user")
    got = add_policy_candidates(lists, out_file, samples=2, score="contrastive", score_scale=50.0, **kw)
    img = random_retriever.encode_images([m.image_path(r) for r in recs])
    checked = 0
    for j, g in enumerate(got):
        for c in g.candidates:
            if c.source == "policy":
                want = target_scores(random_retriever.encode_texts([c.text]), img, np.array([j]), kind="contrastive", scale=50.0)[0]
                assert c.score == pytest.approx(want, abs=1e-5) and c.score <= 0
                checked += 1
    assert checked >= 1
    assert json.loads(out_file.with_suffix(".json").read_text())["score"] == "contrastive"
    with pytest.raises(RAQOError, match="missing"):  # cosine-scored lists are not these: regenerate (and fail on the bad base)
        add_policy_candidates(lists, out_file, samples=2, **{**kw, "base": str(tmp_path / "missing")})
