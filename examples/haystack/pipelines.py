"""RAQO in Haystack: index images into Qdrant, then query them through the RAQO node.

    python examples/haystack/pipelines.py --data DATASET_DIR [--qdrant :memory: | PATH | URL] [--query "..."] [--rewriter raqo]

The RAQO node names the words this retriever misreads and rewrites just those; a query it reads well
("a red circle left of a blue square") passes through unchanged, with the reason "no challenging concepts".

With no --data the embedded benchmark is rendered into the cache (≈4 s). Both pipelines are
also given as YAML beside this file (indexing.yaml, query.yaml) and load with plain
``Pipeline.loads`` — no allowlist flag — because RAQO's components live in the
``haystack_integrations`` namespace.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from haystack import Pipeline
from haystack.components.converters.image import ImageFileToDocument
from haystack.components.writers import DocumentWriter
from haystack.document_stores.types import DuplicatePolicy
from haystack.utils import Secret
from haystack_integrations.components.retrievers.qdrant import QdrantEmbeddingRetriever
from haystack_integrations.document_stores.qdrant import QdrantDocumentStore

from raqo_haystack import OpenCLIPDocumentImageEmbedder, OpenCLIPTextToImageRetriever, RAQOQueryRewriter


def document_store(
    location: str = ":memory:", *, embedding_dim: int = 128, index: str = "raqo_images", recreate_index: bool = False
) -> QdrantDocumentStore:
    """``:memory:``, a local folder, or a server URL (the API key comes from QDRANT_API_KEY)."""
    common: dict[str, Any] = {
        "index": index,
        "embedding_dim": embedding_dim,
        "similarity": "cosine",
        "recreate_index": recreate_index,
        "wait_result_from_api": True,
    }
    if location == ":memory:":
        return QdrantDocumentStore(location=":memory:", **common)
    if location.startswith(("http://", "https://")):
        return QdrantDocumentStore(url=location, api_key=Secret.from_env_var("QDRANT_API_KEY", strict=False), **common)
    return QdrantDocumentStore(path=location, **common)


def indexing_pipeline(store: QdrantDocumentStore, *, clip: str = "embedded", batch_size: int = 64) -> Pipeline:
    p = Pipeline()
    p.add_component("converter", ImageFileToDocument(store_full_path=True))  # or file names + the embedder's root_path
    p.add_component("embedder", OpenCLIPDocumentImageEmbedder(retriever=clip, batch_size=batch_size, progress_bar=False))
    p.add_component("writer", DocumentWriter(document_store=store, policy=DuplicatePolicy.OVERWRITE))
    p.connect("converter.documents", "embedder.documents")
    p.connect("embedder.documents", "writer.documents")
    return p


def query_pipeline(store: QdrantDocumentStore, *, clip: str = "embedded", top_k: int = 10, **rewriter: Any) -> Pipeline:
    p = Pipeline()
    p.add_component("rewriter", RAQOQueryRewriter(**rewriter))
    p.add_component(
        "retriever", OpenCLIPTextToImageRetriever(retriever=QdrantEmbeddingRetriever(document_store=store, top_k=top_k), clip=clip)
    )
    p.connect("rewriter.query", "retriever.query")
    return p


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None)
    ap.add_argument("--qdrant", default=":memory:")
    ap.add_argument("--limit", type=int, default=200, help="index the first N test images")
    ap.add_argument("--query", default="i need the one with a large rose tile on the left side of a cobalt star")
    ap.add_argument("--rewriter", default="raqo", help="raqo (the shipped adapter, default) or a baseline: wordnet, llm-rewrite …")
    a = ap.parse_args()
    from raqo_core.data.manifest import load_manifest
    from raqo_core.paths import embedded_benchmark_dir

    data = Path(a.data) if a.data else embedded_benchmark_dir(0)
    m = load_manifest(data)
    test = m.split("test")[: a.limit]
    store = document_store(a.qdrant, recreate_index=True)
    indexing_pipeline(store).run(
        {"converter": {"sources": [m.image_path(r) for r in test], "meta": [{"image_id": r.image_id} for r in test]}}
    )
    print(f"indexed {store.count_documents()} images")
    res = query_pipeline(store, rewriter=a.rewriter).run({"rewriter": {"query": a.query}}, include_outputs_from={"rewriter"})
    out = res["rewriter"]
    print(f"query:    {a.query}\nconcepts: {out['concepts']}\nrewrite:  {out['query']}  ({out['meta']['reason']})")
    for d in res["retriever"]["documents"][:5]:
        print(f"{d.score:.3f}  {d.meta['image_id']}  {d.meta['file_path']}")


if __name__ == "__main__":
    main()
