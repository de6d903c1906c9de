"""OpenCLIPTextToImageRetriever: embed a text query with CLIP and search an embedding retriever
in one component (no 512-float list crossing a pipeline edge)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import numpy as np
from haystack import Document, component, default_from_dict, default_to_dict, logging
from haystack.core.serialization import component_to_dict
from haystack.utils import ComponentDevice

from haystack_integrations.utils.raqo import device_from_init, resolve_device

logger = logging.getLogger(__name__)


def store_address(retriever: Any) -> str:
    """Where the retriever's document store lives (URL, host, path or ``:memory:``), for error messages."""
    store = getattr(retriever, "document_store", None) or getattr(retriever, "_document_store", None)
    for attr in ("url", "host", "path", "location"):
        v = getattr(store, attr, None)
        if v:
            return f"{type(store).__name__}({attr}={v!r})"
    return type(store).__name__ if store is not None else type(retriever).__name__


def _local_store(retriever: Any) -> bool:
    """Qdrant's embedded local mode (``:memory:`` or a folder): its async client would be a separate,
    empty instance, so async searches run the sync client in a worker thread instead."""
    store = getattr(retriever, "document_store", None) or getattr(retriever, "_document_store", None)
    return bool(getattr(store, "path", None)) or getattr(store, "location", None) == ":memory:"


class VectorSearchError(RuntimeError):
    """The vector store could not be searched; the message names where it was looked for."""


@component
class OpenCLIPTextToImageRetriever:
    """Text → image retrieval: CLIP text embedding + any Haystack embedding retriever
    (``QdrantEmbeddingRetriever``, ``InMemoryEmbeddingRetriever`` …) over image documents
    embedded by ``OpenCLIPDocumentImageEmbedder``.

    Takes ``query`` or ``queries`` (e.g. ``RAQOQueryRewriter.queries``): several queries are
    embedded and their normalised embeddings averaged into one search vector.
    """

    def __init__(
        self, *, retriever: Any, clip: str = "embedded", device: ComponentDevice | str | None = None, top_k: int | None = None
    ) -> None:
        """
        :param retriever: a Haystack embedding retriever (has ``run(query_embedding, filters, top_k)``).
        :param clip: the RAQO retriever spec whose text tower embeds the query (must match the one that
            embedded the images).
        :param device: where the text tower runs, a ``ComponentDevice`` (default: the detected device; ONNX
            retrievers use ONNX Runtime's CUDA provider for a GPU).
        :param top_k: overrides the inner retriever's ``top_k`` when set.
        """
        if not hasattr(retriever, "run"):
            raise ValueError(f"retriever must be a Haystack embedding retriever component, got {type(retriever).__name__}")
        self.retriever = retriever
        self.clip = clip
        self.device = resolve_device(device)
        self.top_k = top_k
        self._clip: Any = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        with self._lock:
            if self._clip is None:
                from raqo_core.retriever.registry import shared_retriever

                self._clip = shared_retriever(self.clip, self.device.to_torch_str())
        if hasattr(self.retriever, "warm_up"):
            self.retriever.warm_up()

    async def warm_up_async(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.warm_up)

    def close(self) -> None:
        self._clip = None
        if hasattr(self.retriever, "close"):
            self.retriever.close()

    def to_dict(self) -> dict[str, Any]:
        return default_to_dict(
            self,
            retriever=component_to_dict(obj=self.retriever, name="retriever"),
            clip=self.clip,
            device=self.device.to_dict(),
            top_k=self.top_k,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OpenCLIPTextToImageRetriever:
        data = {**data, "init_parameters": dict(data.get("init_parameters", {}))}
        device_from_init(data["init_parameters"])
        return default_from_dict(cls, data)

    def _embedding(self, query: str | None, queries: list[str] | None) -> list[float]:
        texts = [q for q in (queries or []) if isinstance(q, str) and q.strip()] or ([query] if query else [])
        if not texts:
            raise ValueError("OpenCLIPTextToImageRetriever needs a non-empty 'query' or 'queries'")
        self.warm_up()
        emb = self._clip.encode_texts(texts)
        vec = emb.mean(axis=0)
        vec = vec / max(float(np.linalg.norm(vec)), 1e-12)
        return vec.astype(np.float32).tolist()

    @component.output_types(documents=list[Document])
    def run(
        self, query: str | None = None, queries: list[str] | None = None, filters: dict[str, Any] | None = None, top_k: int | None = None
    ) -> dict[str, list[Document]]:
        vec = self._embedding(query, queries)
        kwargs: dict[str, Any] = {"query_embedding": vec, "filters": filters}
        k = top_k or self.top_k
        if k:
            kwargs["top_k"] = k
        try:
            docs: list[Document] = self.retriever.run(**kwargs)["documents"]
        except Exception as exc:
            raise VectorSearchError(f"vector search failed against {store_address(self.retriever)}: {type(exc).__name__}: {exc}") from exc
        docs.sort(key=lambda d: d.score or 0.0, reverse=True)
        return {"documents": docs}

    @component.output_types(documents=list[Document])
    async def run_async(
        self, query: str | None = None, queries: list[str] | None = None, filters: dict[str, Any] | None = None, top_k: int | None = None
    ) -> dict[str, list[Document]]:
        loop = asyncio.get_running_loop()
        vec = await loop.run_in_executor(None, self._embedding, query, queries)
        kwargs: dict[str, Any] = {"query_embedding": vec, "filters": filters}
        k = top_k or self.top_k
        if k:
            kwargs["top_k"] = k
        try:
            if hasattr(self.retriever, "run_async") and not _local_store(self.retriever):
                res = await self.retriever.run_async(**kwargs)
            else:
                res = await loop.run_in_executor(None, lambda: self.retriever.run(**kwargs))
        except Exception as exc:
            raise VectorSearchError(f"vector search failed against {store_address(self.retriever)}: {type(exc).__name__}: {exc}") from exc
        docs: list[Document] = res["documents"]
        docs.sort(key=lambda d: d.score or 0.0, reverse=True)
        return {"documents": docs}
