"""RAQO inside real Haystack pipelines over a real (embedded-mode) Qdrant client."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from haystack import Pipeline

from integration_tests._recall import benchmark, raqo_eval_t2i, recall_from_ranked_ids, user_queries
from raqo_core.retriever.registry import shared_retriever

pytestmark = pytest.mark.integration
EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "haystack"
from examples.haystack import pipelines as ex  # noqa: E402

N_QUERIES = 1000


@pytest.fixture(scope="module")
def indexed():
    m = benchmark()
    test = m.split("test")
    store = ex.document_store(":memory:")
    ex.indexing_pipeline(store).run(
        {"converter": {"sources": [m.image_path(r) for r in test], "meta": [{"image_id": r.image_id} for r in test]}}
    )
    assert store.count_documents() == len(test) == 1000
    return m, store


def _ranked(pipe: Pipeline, queries: list[str], entry: str = "rewriter") -> list[list[str]]:
    return [[d.meta["image_id"] for d in pipe.run({entry: {"query": q}})["retriever"]["documents"]] for q in queries]


def test_recall_parity_without_rewriter(indexed):
    m, store = indexed
    from haystack_integrations.components.retrievers.qdrant import QdrantEmbeddingRetriever

    from raqo_haystack import OpenCLIPTextToImageRetriever

    p = Pipeline()
    p.add_component("retriever", OpenCLIPTextToImageRetriever(retriever=QdrantEmbeddingRetriever(document_store=store, top_k=10)))
    qs, gts = user_queries(m, N_QUERIES)
    got = recall_from_ranked_ids(
        [[d.meta["image_id"] for d in p.run({"retriever": {"query": q}})["retriever"]["documents"]] for q in qs], gts
    )
    want = raqo_eval_t2i(m, shared_retriever("embedded"), N_QUERIES)
    for k in want:
        assert got[k] == pytest.approx(want[k], abs=0.21), k  # ≤ 2 of 1000 queries may flip on float ties


def test_recall_parity_with_rewriter(indexed):
    m, store = indexed
    from raqo_core.rewriter.baselines import WordNetExpansion

    pipe = ex.query_pipeline(store, rewriter="wordnet")
    qs, gts = user_queries(m, 300)
    got = recall_from_ranked_ids(_ranked(pipe, qs), gts)
    want = raqo_eval_t2i(m, shared_retriever("embedded"), 300, rewrite=WordNetExpansion().as_text_map())
    for k in want:
        assert got[k] == pytest.approx(want[k], abs=0.34), k


@pytest.mark.slow
def test_recall_parity_with_raqo_rewriter(indexed):
    m, store = indexed
    from raqo_core.rewriter.factory import build_rewriter

    pipe = ex.query_pipeline(store, timeout_s=None)  # the embedded RAQO rewriter; no timeouts: a loaded CPU must not flip results
    qs, gts = user_queries(m, 24)
    out = [pipe.run({"rewriter": {"query": q}}, include_outputs_from={"rewriter"}) for q in qs]
    assert all(o["rewriter"]["meta"]["original_query"] == q for o, q in zip(out, qs, strict=True))
    got = recall_from_ranked_ids([[d.meta["image_id"] for d in o["retriever"]["documents"]] for o in out], gts)
    # The component's defaults are build_rewriter's: the shipped adapter behind the look-up it names (lookup="auto").
    want = raqo_eval_t2i(m, shared_retriever("embedded"), 24, rewrite=build_rewriter("raqo", timeout_s=None).load().as_text_map())
    assert got == pytest.approx(want, abs=1e-6)
    assert any(o["rewriter"]["meta"].get("hints") for o in out)  # the look-up ran, and said what it did
    na = raqo_eval_t2i(m, shared_retriever("embedded"), 24)
    assert got["R@1"] > na["R@1"]  # the shipped adapter helps the shipped retriever


def test_yaml_loads_without_allowlist_and_round_trips(tmp_path):
    for name in ("indexing.yaml", "query.yaml"):
        p = Pipeline.loads((EXAMPLES / name).read_text())  # no allowed_modules, no env flag
        again = Pipeline.loads(p.dumps())
        assert again.to_dict() == p.to_dict()
    q = Pipeline.loads((EXAMPLES / "query.yaml").read_text())
    assert type(q.get_component("rewriter")).__name__ == "RAQOQueryRewriter"


def test_yaml_pipelines_run_end_to_end(tmp_path):
    m = benchmark()
    test = m.split("test")[:40]
    loc = f'path: "{tmp_path / "qdrant"}"'
    idx = Pipeline.loads((EXAMPLES / "indexing.yaml").read_text().replace('location: ":memory:"', loc))
    idx.run({"converter": {"sources": [m.image_path(r) for r in test], "meta": [{"image_id": r.image_id} for r in test]}})
    idx.get_component("writer").document_store.close()  # local Qdrant allows one client per folder
    q = Pipeline.loads(
        (EXAMPLES / "query.yaml").read_text().replace('location: ":memory:"', loc).replace("rewriter: raqo", "rewriter: wordnet")
    )
    res = q.run({"rewriter": {"query": test[3].texts("user")[0]}}, include_outputs_from={"rewriter"})
    assert len(res["retriever"]["documents"]) == 10
    assert res["rewriter"]["meta"]["original_query"] == test[3].texts("user")[0]


def test_run_async_matches_run(indexed):
    m, store = indexed
    pipe = ex.query_pipeline(store, rewriter="wordnet")
    qs, _ = user_queries(m, 5)

    async def go():
        return [await pipe.run_async({"rewriter": {"query": q}}) for q in qs]

    async_ids = [[d.id for d in r["retriever"]["documents"]] for r in asyncio.run(go())]
    sync_ids = [[d.id for d in pipe.run({"rewriter": {"query": q}})["retriever"]["documents"]] for q in qs]
    assert async_ids == sync_ids


def test_refused_qdrant_url_is_named():
    from raqo_haystack import RAQOQueryRewriter  # noqa: F401 - import check

    store = ex.document_store("http://127.0.0.1:9")
    pipe = ex.query_pipeline(store, rewriter="wordnet")
    with pytest.raises(Exception, match=r"vector search failed against QdrantDocumentStore\(url='http://127.0.0.1:9'\)"):
        pipe.run({"rewriter": {"query": "a red circle"}})
