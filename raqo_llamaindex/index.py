"""Building and reopening an image-only ``MultiModalVectorStoreIndex`` over Qdrant.

Pitfalls handled (llama_index #9702, #13070): an index with images and no text documents must
say its text store is empty, or retrieval queries the empty text collection (and fails on a
missing Qdrant collection); ``embed_model`` and ``image_embed_model`` are always passed
explicitly, since the defaults try to download CLIP and call OpenAI.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llama_index.core import StorageContext
from llama_index.core.indices import MultiModalVectorStoreIndex
from llama_index.core.schema import ImageDocument
from llama_index.vector_stores.qdrant import QdrantVectorStore

from raqo_llamaindex.embedding import OpenCLIPEmbedding


def qdrant_client(location: str = ":memory:", api_key: str | None = None) -> Any:
    """``:memory:``, a local folder, or a server URL (same code for a cluster)."""
    from qdrant_client import AsyncQdrantClient, QdrantClient

    if location.startswith(("http://", "https://")):
        return QdrantClient(url=location, api_key=api_key), AsyncQdrantClient(url=location, api_key=api_key)
    if location == ":memory:":
        return QdrantClient(location=":memory:"), None
    return QdrantClient(path=location), None


def vector_stores(client: Any, aclient: Any = None, *, prefix: str = "raqo") -> tuple[QdrantVectorStore, QdrantVectorStore]:
    text = QdrantVectorStore(collection_name=f"{prefix}_text", client=client, aclient=aclient)
    image = QdrantVectorStore(collection_name=f"{prefix}_images", client=client, aclient=aclient)
    return text, image


def build_image_index(
    images: Sequence[str | Path],
    *,
    embed_model: OpenCLIPEmbedding,
    metadata: Sequence[dict] | None = None,
    client: Any = None,
    aclient: Any = None,
    prefix: str = "raqo",
    show_progress: bool = False,
) -> MultiModalVectorStoreIndex:
    """Embed and store images (no text documents) in Qdrant; returns the index."""
    client = client if client is not None else qdrant_client()[0]
    text_store, image_store = vector_stores(client, aclient, prefix=prefix)
    docs = [ImageDocument(image_path=str(p), metadata=dict(metadata[i]) if metadata else {}) for i, p in enumerate(images)]
    storage = StorageContext.from_defaults(vector_store=text_store, image_store=image_store)
    return MultiModalVectorStoreIndex.from_documents(
        docs,
        storage_context=storage,
        embed_model=embed_model,
        image_embed_model=embed_model,
        is_text_vector_store_empty=True,
        show_progress=show_progress,
    )


def open_image_index(
    *, embed_model: OpenCLIPEmbedding, client: Any, aclient: Any = None, prefix: str = "raqo"
) -> MultiModalVectorStoreIndex:
    """Reopen an index written by :func:`build_image_index` from the vector store alone."""
    text_store, image_store = vector_stores(client, aclient, prefix=prefix)
    return MultiModalVectorStoreIndex.from_vector_store(
        vector_store=text_store,
        image_vector_store=image_store,
        embed_model=embed_model,
        image_embed_model=embed_model,
        is_text_vector_store_empty=True,
    )
