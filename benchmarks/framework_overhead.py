"""Per-query overhead of the Haystack and LlamaIndex paths vs calling raqo_core directly.

    python -m benchmarks.framework_overhead --framework haystack --out results/bench/haystack_overhead.json
    python -m benchmarks.framework_overhead --framework llamaindex --out results/bench/llamaindex_overhead.json

Both paths do the same work per query — rewrite (WordNet baseline: deterministic, cheap),
CLIP text encoding, Qdrant search of 1,000 embedded test images (embedded local mode) — so the
difference is what the framework adds. Target: ≤ 2 ms.
"""

from __future__ import annotations

import argparse
import statistics
import time

from benchmarks._common import summary_ms, write


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--framework", choices=["haystack", "llamaindex"], required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    import torch

    from raqo_core.data.manifest import load_manifest
    from raqo_core.paths import embedded_benchmark_dir
    from raqo_core.retriever.registry import shared_retriever
    from raqo_core.rewriter.baselines import WordNetExpansion

    torch.set_num_threads(a.threads)
    data = embedded_benchmark_dir(0)
    m = load_manifest(data)
    test = m.split("test")
    queries = [t for r in test for t in r.texts("user")][: a.n]
    clip = shared_retriever("embedded")
    rw = WordNetExpansion()
    rw.rewrite_batch(queries)  # warm WordNet

    if a.framework == "haystack":
        from examples.haystack import pipelines as hx

        store = hx.document_store(":memory:")
        hx.indexing_pipeline(store).run(
            {"converter": {"sources": [m.image_path(r) for r in test], "meta": [{"image_id": r.image_id} for r in test]}}
        )
        pipe = hx.query_pipeline(store, rewriter="wordnet", top_k=10)
        client, collection = store._client, store.index

        def framework(q: str) -> list[str]:
            return [d.meta["image_id"] for d in pipe.run({"rewriter": {"query": q}})["retriever"]["documents"]]
    else:
        from examples.llamaindex import text_to_image as lx
        from raqo_llamaindex import RAQOQueryTransform, RAQOTextToImageRetriever

        _, index, _, client = lx.build(data)
        retr = RAQOTextToImageRetriever(index, RAQOQueryTransform(WordNetExpansion()), image_similarity_top_k=10)
        collection = "raqo_images"

        def framework(q: str) -> list[str]:
            return [n.node.metadata["image_id"] for n in retr.retrieve(q)]

    def direct(q: str) -> list:
        text = rw.rewrite(q).rewritten_query
        vec = clip.encode_texts([text])[0].tolist()
        return client.query_points(collection_name=collection, query=vec, limit=10).points

    for q in queries[:10]:  # warm-up both paths
        direct(q)
        framework(q)
    td, tf = [], []
    for q in queries:  # interleaved, so drift hits both equally
        t = time.perf_counter()
        direct(q)
        td.append(time.perf_counter() - t)
        t = time.perf_counter()
        framework(q)
        tf.append(time.perf_counter() - t)
    overhead = [f - d for f, d in zip(tf, td, strict=True)]
    write(
        a.out,
        {
            "framework": a.framework,
            "n_queries": len(queries),
            "direct": summary_ms(td),
            "framework_path": summary_ms(tf),
            "overhead_ms": {"median": 1000 * statistics.median(overhead), "mean": 1000 * statistics.mean(overhead)},
            "target_overhead_ms": 2.0,
        },
    )


if __name__ == "__main__":
    main()
