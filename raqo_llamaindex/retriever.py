"""RAQOTextToImageRetriever: transform + text→image retrieval, sync and async.

LlamaIndex's ``TransformRetriever`` runs transforms synchronously (blocking the event loop in
``aretrieve``) and its multimodal retriever queries both the text and the image stores; this
wrapper targets text→image retrieval only and keeps ``_aretrieve`` non-blocking.
"""

from __future__ import annotations

import asyncio
from typing import Any

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle

from raqo_llamaindex.transform import RAQOQueryTransform


class VectorSearchError(RuntimeError):
    """A search failed (refused connection, missing collection); the message names the store and collection."""


def _store_of(mm: Any) -> Any:
    return getattr(mm, "_image_vector_store", None)


def _where(store: Any) -> str:
    """The image store's address and collection, for error messages."""
    if store is None:
        return "the image vector store"
    from raqo_llamaindex.index import client_address

    return f"collection {getattr(store, 'collection_name', '?')!r} at {client_address(getattr(store, '_client', None))}"


class RAQOTextToImageRetriever(BaseRetriever):
    def __init__(self, index: Any, transform: RAQOQueryTransform | None = None, *, image_similarity_top_k: int = 10, **kwargs: Any) -> None:
        """
        :param index: a ``MultiModalVectorStoreIndex`` (or its multimodal retriever).
        :param transform: the RAQO transform; ``None`` retrieves with the query as is.
        :param image_similarity_top_k: images to return.
        """
        if hasattr(index, "as_retriever"):
            index = index.as_retriever(image_similarity_top_k=image_similarity_top_k, similarity_top_k=1)
        if not hasattr(index, "text_to_image_retrieve"):
            raise TypeError(f"index must be a MultiModalVectorStoreIndex or its retriever, got {type(index).__name__}")
        self._mm = index
        self.transform = transform
        self._dim_checked = self._adapter_checked = False
        super().__init__(**kwargs)

    def _clip(self) -> Any:
        """The RAQO retriever behind the index's image embedding model (None for another embedding model)."""
        embed = getattr(self._mm, "_image_embed_model", None) or getattr(self._mm, "_embed_model", None)
        return getattr(embed, "clip", None)

    def _check_dim(self) -> None:
        """Once: the collection's vector size must be the embedding model's (else Qdrant answers with a shape error)."""
        if self._dim_checked:
            return
        store = _store_of(self._mm)
        client = getattr(store, "_client", None)
        clip = self._clip()
        dim = getattr(clip, "dim", None)
        if client is not None and dim is not None:
            try:
                vectors = client.get_collection(store.collection_name).config.params.vectors
            except Exception as exc:  # noqa: BLE001 - reported with the store's address
                raise VectorSearchError(f"cannot read {_where(store)}: {type(exc).__name__}: {exc}") from exc
            sizes = {k: v.size for k, v in vectors.items()} if isinstance(vectors, dict) else {"": vectors.size}
            if dim not in sizes.values():
                raise ValueError(
                    f"{_where(store)} holds {'/'.join(map(str, sizes.values()))}-dimensional vectors, but the embedding model "
                    f"({getattr(clip, 'spec', '?')}) gives {dim}: index and query must use the same retriever"
                )
        self._dim_checked = True

    def _search(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        self._check_dim()
        try:
            return list(self._mm.text_to_image_retrieve(query_bundle))
        except Exception as exc:  # noqa: BLE001 - name the store, keep the cause
            raise VectorSearchError(f"text-to-image search in {_where(_store_of(self._mm))} failed: {type(exc).__name__}: {exc}") from exc

    def _check_adapter(self) -> None:
        """Once, after the transform's rewriter has loaded: warn when its adapter was trained for another retriever
        than the one that embedded this index."""
        if self._adapter_checked or self.transform is None:
            return
        rw = self.transform.rewriter
        meta = getattr(rw, "adapter_meta", None)
        clip = self._clip()
        if meta and clip is not None:
            from raqo_core.rewriter.adapters import check_retriever

            check_retriever(meta, clip.fingerprint, getattr(getattr(rw, "config", None), "adapter", None))
        self._adapter_checked = bool(meta) or meta is None

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        if self.transform is not None:
            query_bundle = self.transform.run(query_bundle)
            self._check_adapter()
        return self._search(query_bundle)

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        if self.transform is not None:
            query_bundle = await self.transform.arun(query_bundle)
            self._check_adapter()
        store = _store_of(self._mm)
        if store is not None and getattr(store, "_aclient", True) is None:
            # Qdrant without an async client (embedded local mode): search in a worker thread.
            return await asyncio.to_thread(self._search, query_bundle)
        self._check_dim()
        try:
            return list(await self._mm.atext_to_image_retrieve(query_bundle))
        except Exception as exc:  # noqa: BLE001 - name the store, keep the cause
            raise VectorSearchError(f"text-to-image search in {_where(store)} failed: {type(exc).__name__}: {exc}") from exc
