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
        super().__init__(**kwargs)

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        if self.transform is not None:
            query_bundle = self.transform.run(query_bundle)
        return self._mm.text_to_image_retrieve(query_bundle)

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        if self.transform is not None:
            query_bundle = await self.transform.arun(query_bundle)
        store = getattr(self._mm, "_image_vector_store", None)
        if store is not None and getattr(store, "_aclient", True) is None:
            # Qdrant without an async client (embedded local mode): search in a worker thread.
            return await asyncio.to_thread(self._mm.text_to_image_retrieve, query_bundle)
        return await self._mm.atext_to_image_retrieve(query_bundle)
