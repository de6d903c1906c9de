"""CLIP embedders for Haystack on RAQO retrievers (open_clip torch or ONNX Runtime backends)."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from haystack import Document, component, default_from_dict, default_to_dict, logging
from haystack.utils import ComponentDevice

from haystack_integrations.utils.raqo import device_from_init, resolve_device

logger = logging.getLogger(__name__)


class _CLIPBase:
    def __init__(self, *, retriever: str = "embedded", device: ComponentDevice | str | None = None) -> None:
        if not isinstance(retriever, str) or not retriever.strip():
            raise ValueError(
                f"retriever must be a RAQO retriever spec ('embedded', 'open_clip:MODEL/TAG', 'onnx:DIR', a path), got {retriever!r}"
            )
        self.retriever = retriever
        self.device = resolve_device(device)
        self._clip: Any = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        """Load the CLIP model (shared with other components using the same spec)."""
        with self._lock:
            if self._clip is None:
                from raqo_core.retriever.registry import shared_retriever

                self._clip = shared_retriever(self.retriever, self.device.to_torch_str())

    async def warm_up_async(self) -> None:
        if self._clip is None:
            await asyncio.get_running_loop().run_in_executor(None, self.warm_up)

    def close(self) -> None:
        self._clip = None

    @property
    def clip(self) -> Any:
        self.warm_up()
        return self._clip


@component
class OpenCLIPTextEmbedder(_CLIPBase):
    """Embeds a text with a CLIP text tower (Haystack's text-embedder contract:
    ``run(text) -> {"embedding": list[float], "meta": {...}}``)."""

    def __init__(
        self, *, retriever: str = "embedded", device: ComponentDevice | str | None = None, prefix: str = "", suffix: str = ""
    ) -> None:
        _CLIPBase.__init__(self, retriever=retriever, device=device)
        self.prefix = prefix
        self.suffix = suffix

    def to_dict(self) -> dict[str, Any]:
        return default_to_dict(self, retriever=self.retriever, device=self.device.to_dict(), prefix=self.prefix, suffix=self.suffix)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OpenCLIPTextEmbedder:
        data = {**data, "init_parameters": dict(data.get("init_parameters", {}))}
        device_from_init(data["init_parameters"])
        return default_from_dict(cls, data)

    @component.output_types(embedding=list[float], meta=dict[str, Any])
    def run(self, text: str) -> dict[str, Any]:
        if not isinstance(text, str):
            raise TypeError("OpenCLIPTextEmbedder expects a string; use OpenCLIPDocumentImageEmbedder for documents")
        emb = self.clip.encode_texts([self.prefix + text + self.suffix])[0]
        return {"embedding": emb.tolist(), "meta": {"retriever": self.clip.spec, "fingerprint": self.clip.fingerprint}}

    @component.output_types(embedding=list[float], meta=dict[str, Any])
    async def run_async(self, text: str) -> dict[str, Any]:
        await self.warm_up_async()
        return await asyncio.get_running_loop().run_in_executor(None, self.run, text)


@component
class OpenCLIPDocumentImageEmbedder(_CLIPBase):
    """Embeds documents whose ``meta[file_path_meta_field]`` points at an image (as
    ``ImageFileToDocument`` produces), writing ``Document.embedding``."""

    def __init__(
        self,
        *,
        retriever: str = "embedded",
        device: ComponentDevice | str | None = None,
        file_path_meta_field: str = "file_path",
        root_path: str | None = None,
        batch_size: int = 32,
        progress_bar: bool = True,
    ) -> None:
        _CLIPBase.__init__(self, retriever=retriever, device=device)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.file_path_meta_field = file_path_meta_field
        self.root_path = root_path
        self.batch_size = batch_size
        self.progress_bar = progress_bar

    def to_dict(self) -> dict[str, Any]:
        return default_to_dict(
            self,
            retriever=self.retriever,
            device=self.device.to_dict(),
            file_path_meta_field=self.file_path_meta_field,
            root_path=self.root_path,
            batch_size=self.batch_size,
            progress_bar=self.progress_bar,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OpenCLIPDocumentImageEmbedder:
        data = {**data, "init_parameters": dict(data.get("init_parameters", {}))}
        device_from_init(data["init_parameters"])
        return default_from_dict(cls, data)

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document]) -> dict[str, list[Document]]:
        if not isinstance(documents, list) or any(not isinstance(d, Document) for d in documents):
            raise TypeError("OpenCLIPDocumentImageEmbedder expects a list of Documents")
        if not documents:
            return {"documents": []}
        paths = []
        for d in documents:
            fp = d.meta.get(self.file_path_meta_field)
            if not fp:
                raise ValueError(f"document {d.id} has no meta[{self.file_path_meta_field!r}] pointing at an image")
            paths.append(Path(self.root_path or "") / fp)
        emb = self.clip.encode_images(paths, batch_size=self.batch_size, progress=self.progress_bar)
        return {"documents": [replace(d, embedding=e.tolist()) for d, e in zip(documents, emb, strict=True)]}

    @component.output_types(documents=list[Document])
    async def run_async(self, documents: list[Document]) -> dict[str, list[Document]]:
        await self.warm_up_async()
        return await asyncio.get_running_loop().run_in_executor(None, self.run, documents)
