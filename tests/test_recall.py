import numpy as np
import pytest

from raqo_core.errors import RAQOError
from raqo_core.evaluation.recall import chunked_similarity_ranks, i2t_ranks, recall_at_k, t2i_ranks


def test_t2i_ranks_by_hand():
    sims = np.array(
        [
            [0.9, 0.1, 0.2],  # gt 0 → rank 0
            [0.9, 0.5, 0.7],  # gt 1 → two above → rank 2
            [0.1, 0.2, 0.3],  # gt 2 → rank 0
            [0.5, 0.5, 0.1],  # gt 1 tied with 0 → rank 0 (ties don't push down)
        ]
    )
    ranks = t2i_ranks(sims, [0, 1, 2, 1])
    assert ranks.tolist() == [0, 2, 0, 0]
    assert recall_at_k(ranks, (1, 2, 3)) == {"R@1": 75.0, "R@2": 75.0, "R@3": 100.0}


def test_i2t_best_caption_counts():
    # 2 images, 4 captions: captions 0,1 belong to image 0; 2,3 to image 1
    sims = np.array(
        [
            [0.2, 0.8, 0.9, 0.1],  # best own caption (0.8) has one above → rank 1
            [0.3, 0.4, 0.1, 0.2],  # best own (0.2) has 0.3, 0.4 above → rank 2
        ]
    )
    ranks = i2t_ranks(sims, [0, 0, 1, 1])
    assert ranks.tolist() == [1, 2]
    assert recall_at_k(ranks) == {"R@1": 0.0, "R@5": 100.0, "R@10": 100.0}


def test_i2t_distractor_captions_and_missing_owner():
    sims = np.array([[0.5, 0.9]])
    assert i2t_ranks(sims, [0, -1]).tolist() == [1]  # caption owned by nobody only distracts
    with pytest.raises(RAQOError, match=r"images \[1\] have no caption"):
        i2t_ranks(np.zeros((2, 2)), [0, 0])


def test_chunked_matches_full_and_checks_dims():
    rng = np.random.default_rng(0)
    q, g = rng.normal(size=(50, 8)), rng.normal(size=(20, 8))
    tgt = rng.integers(0, 20, size=50)
    assert (chunked_similarity_ranks(q, g, tgt, chunk=7) == t2i_ranks(q @ g.T, tgt)).all()
    with pytest.raises(RAQOError, match=r"query dim 8 != gallery dim 4 \(embedding-dimension mismatch\)"):
        chunked_similarity_ranks(q, g[:, :4], tgt)


def test_shape_errors():
    with pytest.raises(RAQOError, match=r"does not match 3 targets"):
        t2i_ranks(np.zeros((2, 2)), [0, 1, 1])
    with pytest.raises(RAQOError, match="out of range"):
        t2i_ranks(np.zeros((1, 2)), [5])
    with pytest.raises(RAQOError, match="empty query set"):
        recall_at_k(np.array([]))
