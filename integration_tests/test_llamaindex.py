"""RAQO inside real LlamaIndex indexes over a real (embedded-mode) Qdrant client."""

from __future__ import annotations

import asyncio

import pytest
from llama_index.core.schema import ImageNode, QueryBundle

from examples.llamaindex import text_to_image as ex
from integration_tests._recall import raqo_eval_t2i, recall_from_ranked_ids, user_queries
from raqo_core.paths import embedded_benchmark_dir
from raqo_core.retriever.registry import shared_retriever
from raqo_core.rewriter.baselines import WordNetExpansion
from raqo_llamaindex import OpenCLIPEmbedding, RAQOQueryTransform, RAQOTextToImageRetriever, open_image_index

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def built():
    return ex.build(embedded_benchmark_dir(0))


def _ids(nodes):
    return [n.node.metadata["image_id"] for n in nodes]


def test_recall_parity_without_and_with_rewriter(built):
    m, index, _, _ = built
    plain = RAQOTextToImageRetriever(index, image_similarity_top_k=10)
    qs, gts = user_queries(m, 1000)
    got = recall_from_ranked_ids([_ids(plain.retrieve(q)) for q in qs], gts)
    want = raqo_eval_t2i(m, shared_retriever("embedded"), 1000)
    for k in want:
        assert got[k] == pytest.approx(want[k], abs=0.21), k
    rw = RAQOTextToImageRetriever(index, RAQOQueryTransform(WordNetExpansion()), image_similarity_top_k=10)
    qs, gts = user_queries(m, 300)
    got = recall_from_ranked_ids([_ids(rw.retrieve(q)) for q in qs], gts)
    want = raqo_eval_t2i(m, shared_retriever("embedded"), 300, rewrite=WordNetExpansion().as_text_map())
    for k in want:
        assert got[k] == pytest.approx(want[k], abs=0.34), k


def test_transform_bundle_contract():
    t = RAQOQueryTransform(WordNetExpansion(), include_original_query=True)
    meta: dict = {}
    b = t.run(QueryBundle("a crimson orb", image_path="q.png"), metadata=meta)
    assert b.query_str == "a crimson orb" and b.image_path == "q.png"
    assert b.custom_embedding_strs == [meta["raqo"]["rewritten_query"], "a crimson orb"]
    assert meta["raqo"]["concepts"] == ["crimson", "orb"] and t.last_result.applied
    empty = RAQOQueryTransform(WordNetExpansion()).run("   ")
    assert empty.query_str == "   " and empty.custom_embedding_strs == ["   "]


def test_prompts_exposed_and_updatable():
    from llama_index.core.prompts import PromptTemplate

    t = RAQOQueryTransform(model="embedded")
    prompts = t.get_prompts()
    assert "concepts" in prompts["rewrite_prompt"].get_template()
    t.update_prompts({"rewrite_prompt": PromptTemplate("Rewrite for a fashion retriever.")})
    assert t.rewriter.config.system_prompt == "Rewrite for a fashion retriever."
    assert "|p" in t.rewriter.fingerprint  # the cache key changes with the prompt


def test_query_engine_async_and_reopen(built):
    m, index, embed, client = built
    transform = RAQOQueryTransform(WordNetExpansion())
    resp = ex.query_engine(index, transform).query("a huge crimson orb above a tiny azure tile")
    assert resp.source_nodes and all(isinstance(n.node, ImageNode) for n in resp.source_nodes)
    assert transform.last_result.original_query == "a huge crimson orb above a tiny azure tile"
    r = RAQOTextToImageRetriever(index, transform, image_similarity_top_k=10)
    q = m.split("test")[7].texts("user")[1]

    async def many():
        return await asyncio.gather(*(r.aretrieve(q) for _ in range(3)))

    results = asyncio.run(many())
    assert all(_ids(x) == _ids(r.retrieve(q)) for x in results)
    reopened = RAQOTextToImageRetriever(open_image_index(embed_model=embed, client=client), transform, image_similarity_top_k=10)
    assert _ids(reopened.retrieve(q)) == _ids(r.retrieve(q))


def test_embedding_batches_and_async():
    e = OpenCLIPEmbedding("embedded", embed_batch_size=3)
    texts = [f"a {c} circle" for c in ("red", "blue", "green", "pink", "black")]
    batch = e.get_text_embedding_batch(texts)
    single = [e.get_text_embedding(t) for t in texts]
    import numpy as np

    np.testing.assert_allclose(batch, single, atol=1e-5)
    assert np.allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
    a = asyncio.run(e.aget_query_embedding("a red circle"))
    np.testing.assert_allclose(a, single[0], atol=1e-5)
    with pytest.raises(ValueError, match="retriever must be a RAQO retriever spec"):
        OpenCLIPEmbedding("")


def test_the_documented_snippet_indexes_every_image(tmp_path):
    """docs/llamaindex.md: build_image_index(paths, embed_model=…) with no metadata must index every image, not 0."""
    from raqo_core.data.manifest import load_manifest
    from raqo_llamaindex import build_image_index, qdrant_client

    m = load_manifest(embedded_benchmark_dir(0))
    paths = [str(m.image_path(r)) for r in m.split("test")[:12]]
    client, aclient = qdrant_client(":memory:")
    index = build_image_index(paths, embed_model=OpenCLIPEmbedding("embedded"), client=client, aclient=aclient)
    assert client.count("raqo_images").count == 12
    top = RAQOTextToImageRetriever(index, image_similarity_top_k=3).retrieve(m.split("test")[0].captions[0])
    assert len(top) == 3 and all(n.node.metadata["file_path"] in paths for n in top)
    with pytest.raises(FileNotFoundError, match="1 of 13 images do not exist, e.g. '.*nope.png'"):
        build_image_index([*paths, str(tmp_path / "nope.png")], embed_model=OpenCLIPEmbedding("embedded"), client=client, prefix="x")
    with pytest.raises(ValueError, match="got no images"):
        build_image_index([], embed_model=OpenCLIPEmbedding("embedded"), client=client, prefix="y")


def test_store_errors_name_the_store_and_the_sizes():
    from raqo_core.data.manifest import load_manifest
    from raqo_llamaindex import build_image_index, qdrant_client
    from raqo_llamaindex.index import VectorStoreError

    m = load_manifest(embedded_benchmark_dir(0))
    client, _ = qdrant_client(":memory:")
    build_image_index([str(m.image_path(r)) for r in m.split("test")[:4]], embed_model=OpenCLIPEmbedding("embedded"), client=client)
    wrong = open_image_index(embed_model=OpenCLIPEmbedding("open_clip:ViT-B-32"), client=client)  # random weights, 512-d
    with pytest.raises(ValueError, match="'raqo_images' at :memory: holds 128-dimensional vectors, but the embedding model .* gives 512"):
        RAQOTextToImageRetriever(wrong).retrieve("a red circle")
    refused, arefused = qdrant_client("http://127.0.0.1:9")
    with pytest.raises(VectorStoreError, match="at http://127.0.0.1:9: .*Connection refused"):
        open_image_index(embed_model=OpenCLIPEmbedding("embedded"), client=refused, aclient=arefused)
