"""OpenCLIPEmbedding: a LlamaIndex ``MultiModalEmbedding`` on RAQO retrievers (torch or ONNX)."""

from __future__ import annotations

import asyncio
from typing import Any

from llama_index.core.base.embeddings.base import Embedding
from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.embeddings.multi_modal_base import MultiModalEmbedding
from llama_index.core.schema import ImageType


class OpenCLIPEmbedding(MultiModalEmbedding):
    """CLIP text and image embeddings, batched and normalised, for ``MultiModalVectorStoreIndex``.

    ``retriever`` is any RAQO spec: ``embedded``, ``open_clip:ViT-B-32/openai``, a local open_clip
    folder or ``onnx:DIR``. Unlike LlamaIndex's ``ClipEmbedding`` it needs no git install of
    OpenAI's CLIP and embeds texts in batches of ``embed_batch_size``. Async methods run the
    model in a worker thread, off the event loop.
    """

    retriever: str = Field(default="embedded", description="RAQO retriever spec")
    device: str = Field(default="cpu", description="torch device, or cuda for ONNX Runtime's CUDA provider")
    _clip: Any = PrivateAttr(default=None)

    def __init__(self, retriever: str = "embedded", device: str = "cpu", embed_batch_size: int = 32, **kwargs: Any) -> None:
        if not isinstance(retriever, str) or not retriever.strip():
            raise ValueError(f"retriever must be a RAQO retriever spec, got {retriever!r}")
        super().__init__(  # type: ignore[call-arg]  # pydantic fields declared on this class
            retriever=retriever, device=device, embed_batch_size=embed_batch_size, model_name=kwargs.pop("model_name", retriever), **kwargs
        )

    @classmethod
    def class_name(cls) -> str:
        return "OpenCLIPEmbedding"

    @property
    def clip(self) -> Any:
        if self._clip is None:
            from raqo_core.retriever.registry import shared_retriever

            self._clip = shared_retriever(self.retriever, self.device)
        return self._clip

    # -- text --------------------------------------------------------------------------------
    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return self.clip.encode_texts(texts, batch_size=self.embed_batch_size).tolist()

    def _get_text_embedding(self, text: str) -> Embedding:
        return self._get_text_embeddings([text])[0]

    def _get_query_embedding(self, query: str) -> Embedding:
        return self._get_text_embedding(query)

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return await asyncio.to_thread(self._get_text_embeddings, texts)

    async def _aget_text_embedding(self, text: str) -> Embedding:
        return (await self._aget_text_embeddings([text]))[0]

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return await self._aget_text_embedding(query)

    # -- images ------------------------------------------------------------------------------
    def _get_image_embeddings(self, img_file_paths: list[ImageType]) -> list[Embedding]:
        return self.clip.encode_images(list(img_file_paths), batch_size=self.embed_batch_size).tolist()

    def _get_image_embedding(self, img_file_path: ImageType) -> Embedding:
        return self._get_image_embeddings([img_file_path])[0]

    async def _aget_image_embeddings(self, img_file_paths: list[ImageType]) -> list[Embedding]:
        return await asyncio.to_thread(self._get_image_embeddings, img_file_paths)

    async def _aget_image_embedding(self, img_file_path: ImageType) -> Embedding:
        return (await self._aget_image_embeddings([img_file_path]))[0]
