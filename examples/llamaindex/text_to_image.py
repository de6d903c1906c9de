"""RAQO in LlamaIndex: an image-only MultiModalVectorStoreIndex over Qdrant, queried through
RAQOQueryTransform.

    python examples/llamaindex/text_to_image.py [--data DATASET_DIR] [--qdrant :memory: | PATH | URL]
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from llama_index.core.llms.mock import MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine, TransformQueryEngine

from raqo_llamaindex import (
    OpenCLIPEmbedding,
    RAQOQueryTransform,
    RAQOTextToImageRetriever,
    build_image_index,
    qdrant_client,
)


def build(data: Path, location: str = ":memory:", limit: int | None = None, clip: str = "embedded"):
    from raqo_core.data.manifest import load_manifest

    m = load_manifest(data)
    test = m.split("test")[:limit]
    embed = OpenCLIPEmbedding(clip, embed_batch_size=64)
    client, aclient = qdrant_client(location)
    index = build_image_index(
        [m.image_path(r) for r in test],
        embed_model=embed,
        client=client,
        aclient=aclient,
        metadata=[{"image_id": r.image_id} for r in test],
    )
    return m, index, embed, client


def query_engine(index, transform: RAQOQueryTransform, top_k: int = 5) -> TransformQueryEngine:
    """A TransformQueryEngine whose sources are the retrieved images (MockLLM: no API key needed)."""
    base = RetrieverQueryEngine.from_args(retriever=RAQOTextToImageRetriever(index, image_similarity_top_k=top_k), llm=MockLLM())
    return TransformQueryEngine(base, query_transform=transform)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None)
    ap.add_argument("--qdrant", default=":memory:")
    ap.add_argument("--limit", type=int, default=200)
    ap.add_argument("--query", default="i need the one with a large rose tile on the left side of a cobalt star")
    ap.add_argument("--rewriter", default="raqo", help="raqo (the shipped adapter, default) or a baseline name")
    a = ap.parse_args()
    from raqo_core.paths import embedded_benchmark_dir
    from raqo_core.rewriter.factory import build_rewriter

    _, index, _, _ = build(Path(a.data) if a.data else embedded_benchmark_dir(0), a.qdrant, a.limit)
    transform = RAQOQueryTransform(build_rewriter(a.rewriter))  # adapter="auto": the shipped one for the embedded base
    retriever = RAQOTextToImageRetriever(index, transform, image_similarity_top_k=5)
    for n in retriever.retrieve(a.query):
        print(f"{n.score:.3f}  {n.node.metadata['image_id']}")
    r = transform.last_result
    print(f"query:    {a.query}\nconcepts: {r.concepts}\nrewrite:  {r.rewritten_query}  ({r.reason})")
    nodes = asyncio.run(retriever.aretrieve(a.query))
    print("async:", [n.node.metadata["image_id"] for n in nodes])
    resp = query_engine(index, transform).query(a.query)
    print("query engine sources:", [n.node.metadata["image_id"] for n in resp.source_nodes])


if __name__ == "__main__":
    main()
