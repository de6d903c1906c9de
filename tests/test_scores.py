"""MPADE's candidate score / PRO's reward, and reusing MPADE outputs only when they match the config."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from raqo_core.errors import RAQOError
from raqo_core.mpade.assessment import target_scores
from raqo_core.mpade.config import MPADEConfig


def _unit(v):
    v = np.asarray(v, dtype=np.float32)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


IMAGES = _unit([[1.0, 0.0, 0.0], [0.8, 0.6, 0.0], [0.0, 0.0, 1.0]])


def test_cosine_score_is_the_target_similarity():
    texts = _unit([[1.0, 0.2, 0.0], [0.1, 0.0, 1.0]])
    got = target_scores(texts, IMAGES, np.array([0, 2]))
    assert got == pytest.approx([float(texts[0] @ IMAGES[0]), float(texts[1] @ IMAGES[2])], abs=1e-6)


def test_contrastive_score_is_the_log_softmax_of_the_target_over_the_scale():
    texts = _unit([[1.0, 0.2, 0.0]])
    sims = (texts @ IMAGES.T)[0].astype(np.float64)
    want = (10 * sims[1] - math.log(np.exp(10 * sims).sum())) / 10  # target: image 1, scale 10
    assert target_scores(texts, IMAGES, np.array([1]), kind="contrastive", scale=10.0)[0] == pytest.approx(want, abs=1e-6)
    # large scales stay finite (log-sum-exp is shifted by the row maximum)
    assert np.isfinite(target_scores(texts, IMAGES, np.array([1]), kind="contrastive", scale=1e4)).all()


def test_contrastive_score_prefers_the_text_that_separates_the_target_from_a_look_alike():
    # A: closer to the target (image 0) but as close to its look-alike (image 1);
    # B: a little less close to the target, far from the look-alike.
    a = _unit([[0.9, 0.44, 0.0]])
    b = _unit([[0.85, -0.2, 0.49]])
    both = np.concatenate([a, b])
    cos = target_scores(both, IMAGES, np.array([0, 0]))
    con = target_scores(both, IMAGES, np.array([0, 0]), kind="contrastive")
    assert cos[0] > cos[1]  # cosine ranks A first ...
    assert (both @ IMAGES.T)[0, 1] > (both @ IMAGES.T)[0, 0]  # ... though A retrieves the look-alike first
    assert con[1] > con[0]  # the contrastive score ranks B first
    assert (con <= 0).all()  # a log-probability over the scale


def test_score_chunks_agree_and_bad_input_is_named():
    rng = np.random.default_rng(0)
    texts, imgs = _unit(rng.normal(size=(37, 8))), _unit(rng.normal(size=(11, 8)))
    tgt = rng.integers(0, 11, 37)
    full = target_scores(texts, imgs, tgt, kind="contrastive")
    assert target_scores(texts, imgs, tgt, kind="contrastive", chunk=5) == pytest.approx(full)
    with pytest.raises(RAQOError, match="unknown score 'dot'"):
        target_scores(texts, imgs, tgt, kind="dot")
    with pytest.raises(RAQOError, match="score scale must be > 0, got 0"):
        target_scores(texts, imgs, tgt, kind="contrastive", scale=0)
    with pytest.raises(RAQOError, match="got 3 targets for 37 texts"):
        target_scores(texts, imgs, tgt[:3])


def test_mpade_config_validates_the_score():
    with pytest.raises(RAQOError, match="score must be 'cosine' or 'contrastive', got 'logit'"):
        MPADEConfig(score="logit").validate()
    with pytest.raises(RAQOError, match="score_scale must be > 0, got -1"):
        MPADEConfig(score="contrastive", score_scale=-1).validate()


def test_mined_outputs_are_reused_only_with_the_settings_the_config_names(tmp_path):
    from raqo_core.training.pipeline import check_mined_with

    (tmp_path / "meta.json").write_text(json.dumps({"config": {"register": "user", "rounds": 3}}))  # mined before 'score' existed
    check_mined_with(tmp_path, {"register": "user", "rounds": 3, "score": "cosine"})  # the default then
    check_mined_with(tmp_path, {})
    with pytest.raises(RAQOError, match=r"mined with score='cosine', but the config asks for score='contrastive'"):
        check_mined_with(tmp_path, {"score": "contrastive"})
    with pytest.raises(RAQOError, match=r"mined with rounds=3, but the config asks for rounds=2; delete that folder"):
        check_mined_with(tmp_path, {"rounds": 2})
