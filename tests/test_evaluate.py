import numpy as np
import pytest

from raqo_core.data.manifest import load_manifest
from raqo_core.errors import RAQOError
from raqo_core.evaluation.evaluate import EvalSetup, evaluate
from raqo_core.evaluation.recall import i2t_ranks, recall_at_k, t2i_ranks


def test_matches_direct_computation(tiny_bench, random_retriever):
    m = load_manifest(tiny_bench)
    res = evaluate(m, random_retriever, EvalSetup(register="user", progress=False))
    test = m.split("test")
    img = random_retriever.encode_images([m.image_path(r) for r in test])
    texts = [t for r in test for t in r.texts("user")]
    owner = [i for i, r in enumerate(test) for _ in r.texts("user")]
    txt = random_retriever.encode_texts(texts)
    assert res["t2i"] == pytest.approx(recall_at_k(t2i_ranks(txt @ img.T, owner)))
    assert res["i2t"] == pytest.approx(recall_at_k(i2t_ranks(img @ txt.T, owner)))
    assert res["i2t_ranks"] == i2t_ranks(img @ txt.T, owner).tolist()  # per image, for paired I2T comparisons
    assert res["n_queries"] == {"t2i": 200, "i2t": 40} and res["gallery"] == {"images": 40, "texts": 200}


def test_limit_keeps_full_gallery(tiny_bench, random_retriever):
    full = evaluate(tiny_bench, random_retriever, EvalSetup(progress=False))
    lim = evaluate(tiny_bench, random_retriever, EvalSetup(limit=17, progress=False))
    assert lim["n_queries"] == {"t2i": 17, "i2t": 17}
    assert lim["t2i_ranks"] == full["t2i_ranks"][:17]  # same gallery → same ranks for the same queries
    with pytest.raises(RAQOError, match="limit must be a positive number"):
        evaluate(tiny_bench, random_retriever, EvalSetup(limit=0))


def test_rewrite_hooks(tiny_bench, random_retriever):
    m = load_manifest(tiny_bench)
    plain = evaluate(m, random_retriever, EvalSetup(register="captions", progress=False))
    user_to_plain = dict(
        zip([t for r in m.split("test") for t in r.texts("user")], [t for r in m.split("test") for t in r.captions], strict=True)
    )
    calls = []

    def oracle(qs):
        calls.append(len(qs))
        return [user_to_plain[q] for q in qs]

    res = evaluate(m, random_retriever, EvalSetup(register="user", progress=False), rewrite_queries=oracle, rewrite_gallery=oracle)
    assert calls == [200, 200]
    assert res["t2i"] == pytest.approx(plain["t2i"]) and res["i2t"] == pytest.approx(plain["i2t"])
    with pytest.raises(RAQOError, match="rewrite_queries returned 1 texts for 200 queries"):
        evaluate(m, random_retriever, EvalSetup(register="user", progress=False), rewrite_queries=lambda qs: qs[:1])


def test_dimension_mismatch(tiny_bench, random_retriever):
    with pytest.raises(RAQOError, match=r"image embeddings have shape \(40, 3\); expected \[n, 128\]"):
        evaluate(tiny_bench, random_retriever, EvalSetup(progress=False), image_embeddings=np.zeros((40, 3), np.float32))
