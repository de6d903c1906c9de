"""Recall@K through Haystack and LlamaIndex vs `raqo eval` (T2I, user queries, full 1,000-image gallery).

python -m benchmarks.parity_table --out results/bench/parity.json [--n 1000]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmarks._common import write

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="results/bench/parity.json")
    ap.add_argument("--n", type=int, default=1000)
    a = ap.parse_args()
    import torch
    from haystack import Pipeline
    from haystack_integrations.components.retrievers.qdrant import QdrantEmbeddingRetriever

    from examples.haystack import pipelines as hx
    from examples.llamaindex import text_to_image as lx
    from integration_tests._recall import benchmark, raqo_eval_t2i, recall_from_ranked_ids, user_queries
    from raqo_core.retriever.registry import shared_retriever
    from raqo_core.rewriter.baselines import WordNetExpansion
    from raqo_haystack import OpenCLIPTextToImageRetriever
    from raqo_llamaindex import RAQOQueryTransform, RAQOTextToImageRetriever

    torch.set_num_threads(2)
    m = benchmark()
    test = m.split("test")
    clip = shared_retriever("embedded")
    qs, gts = user_queries(m, a.n)
    wn = WordNetExpansion()
    rows = {"raqo eval": raqo_eval_t2i(m, clip, a.n), "raqo eval + WordNet rewriter": raqo_eval_t2i(m, clip, a.n, rewrite=wn.as_text_map())}
    store = hx.document_store(":memory:")
    hx.indexing_pipeline(store).run(
        {"converter": {"sources": [m.image_path(r) for r in test], "meta": [{"image_id": r.image_id} for r in test]}}
    )
    plain = Pipeline()
    plain.add_component("retriever", OpenCLIPTextToImageRetriever(retriever=QdrantEmbeddingRetriever(document_store=store, top_k=10)))
    rows["Haystack + Qdrant"] = recall_from_ranked_ids(
        [[d.meta["image_id"] for d in plain.run({"retriever": {"query": q}})["retriever"]["documents"]] for q in qs], gts
    )
    rw = hx.query_pipeline(store, rewriter="wordnet")
    rows["Haystack + Qdrant + RAQOQueryRewriter(wordnet)"] = recall_from_ranked_ids(
        [[d.meta["image_id"] for d in rw.run({"rewriter": {"query": q}})["retriever"]["documents"]] for q in qs], gts
    )
    _, index, _, _ = lx.build(Path(m.root))
    li = RAQOTextToImageRetriever(index, image_similarity_top_k=10)
    rows["LlamaIndex + Qdrant"] = recall_from_ranked_ids([[n.node.metadata["image_id"] for n in li.retrieve(q)] for q in qs], gts)
    li_rw = RAQOTextToImageRetriever(index, RAQOQueryTransform(wn), image_similarity_top_k=10)
    rows["LlamaIndex + Qdrant + RAQOQueryTransform(wordnet)"] = recall_from_ranked_ids(
        [[n.node.metadata["image_id"] for n in li_rw.retrieve(q)] for q in qs], gts
    )
    write(a.out, {"n_queries": len(qs), "register": "user", "gallery_images": len(test), "t2i": rows})


if __name__ == "__main__":
    main()
