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


class VectorStoreError(RuntimeError):
    """The vector store could not be reached or read; the message names its address and collection."""


def client_address(client: Any) -> str:
    """A Qdrant client's server URL, local folder or ``:memory:`` (for error messages)."""
    inner = getattr(client, "_client", None)
    return str(
        getattr(inner, "rest_uri", None) or getattr(inner, "location", None) or getattr(inner, "path", None) or type(client).__name__
    )


def _count(client: Any, collection: str) -> int:
    """Points in a Qdrant collection (0 when it does not exist yet)."""
    if not client.collection_exists(collection):
        return 0
    return int(client.count(collection, exact=True).count)


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
    """Embed and store images (no text documents) in Qdrant; returns the index.

    Each image's node carries ``file_path`` in its metadata (as LlamaIndex's readers write it): LlamaIndex skips
    nodes without content, which would leave an index of nothing. Raises if any image is missing or not indexed."""
    paths = [str(p) for p in images]
    if not paths:
        raise ValueError("build_image_index got no images; expected a list of image file paths")
    missing = [p for p in paths if not Path(p).is_file()]
    if missing:
        raise FileNotFoundError(f"{len(missing)} of {len(paths)} images do not exist, e.g. {missing[0]!r}")
    if metadata is not None and len(metadata) != len(paths):
        raise ValueError(f"metadata has {len(metadata)} entries for {len(paths)} images")
    client = client if client is not None else qdrant_client()[0]
    try:
        text_store, image_store = vector_stores(client, aclient, prefix=prefix)
    except Exception as exc:  # noqa: BLE001 - name the store, keep the cause
        raise VectorStoreError(f"cannot reach the vector store at {client_address(client)}: {type(exc).__name__}: {exc}") from exc
    docs = [ImageDocument(image_path=p, metadata={"file_path": p, **(dict(metadata[i]) if metadata else {})}) for i, p in enumerate(paths)]
    storage = StorageContext.from_defaults(vector_store=text_store, image_store=image_store)
    before = _count(client, f"{prefix}_images")
    index = MultiModalVectorStoreIndex.from_documents(
        docs,
        storage_context=storage,
        embed_model=embed_model,
        image_embed_model=embed_model,
        is_text_vector_store_empty=True,
        show_progress=show_progress,
    )
    stored = _count(client, f"{prefix}_images") - before
    if stored != len(paths):
        raise RuntimeError(f"only {stored} of {len(paths)} images were indexed in {prefix}_images (LlamaIndex skipped the rest)")
    return index


def open_image_index(
    *, embed_model: OpenCLIPEmbedding, client: Any, aclient: Any = None, prefix: str = "raqo"
) -> MultiModalVectorStoreIndex:
    """Reopen an index written by :func:`build_image_index` from the vector store alone."""
    try:
        text_store, image_store = vector_stores(client, aclient, prefix=prefix)
        return MultiModalVectorStoreIndex.from_vector_store(
            vector_store=text_store,
            image_vector_store=image_store,
            embed_model=embed_model,
            image_embed_model=embed_model,
            is_text_vector_store_empty=True,
        )
    except Exception as exc:  # noqa: BLE001 - name the store, keep the cause
        raise VectorStoreError(
            f"cannot open collection {prefix + '_images'!r} at {client_address(client)}: {type(exc).__name__}: {exc}"
        ) from exc
