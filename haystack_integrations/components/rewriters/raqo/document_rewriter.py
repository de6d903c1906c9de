"""RAQODocumentRewriter: rewrite text documents (captions) before they are embedded."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from haystack import Document, component, default_to_dict, logging
from haystack.utils import deserialize_secrets_inplace

from haystack_integrations.components.rewriters.raqo.query_rewriter import RAQOQueryRewriter
from haystack_integrations.utils.raqo import device_from_init

logger = logging.getLogger(__name__)


@component
class RAQODocumentRewriter:
    """Batched RAQO rewriting of ``Document.content`` — the I2T side of the paper, where the
    gallery is text. The original content is kept in ``meta["raqo_original_content"]`` and the
    decision in ``meta["raqo"]``; documents whose rewrite fails keep their content unchanged.
    """

    def __init__(self, *, batch_size: int = 8, progress_bar: bool = True, **rewriter_kwargs: Any) -> None:
        """
        :param batch_size: documents per generation call.
        :param progress_bar: show a progress bar over batches.
        :param rewriter_kwargs: the same keyword arguments as :class:`RAQOQueryRewriter` (``rewriter``, ``device``,
            ``api_key`` and any ``RewriterConfig`` field).
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = batch_size
        self.progress_bar = progress_bar
        self._node = RAQOQueryRewriter(batch_size=batch_size, **rewriter_kwargs)

    def warm_up(self) -> None:
        self._node.warm_up()

    async def warm_up_async(self) -> None:
        await self._node.warm_up_async()

    def close(self) -> None:
        self._node.close()

    def to_dict(self) -> dict[str, Any]:
        node = self._node.to_dict()["init_parameters"]
        node.pop("batch_size", None)
        return default_to_dict(self, batch_size=self.batch_size, progress_bar=self.progress_bar, **node)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RAQODocumentRewriter:
        params = dict(data.get("init_parameters", {}))  # the caller's dict stays as it was
        deserialize_secrets_inplace(params, keys=["api_key"])
        device_from_init(params)
        return cls(**params)

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document]) -> dict[str, list[Document]]:
        if not isinstance(documents, list) or any(not isinstance(d, Document) for d in documents):
            raise TypeError("RAQODocumentRewriter expects a list of Documents")
        texts = [d.content or "" for d in documents]
        try:
            self.warm_up()
            impl = self._node._impl
            results = []
            spans = range(0, len(texts), self.batch_size)
            if self.progress_bar and len(texts) > self.batch_size:
                from tqdm.auto import tqdm

                spans = tqdm(spans, desc="RAQO rewriting documents", unit="batch")
            for a in spans:
                results.extend(impl.rewrite_batch(texts[a : a + self.batch_size]))
        except Exception as exc:  # noqa: BLE001 - keep the documents, log why
            logger.exception("RAQO document rewriting failed; documents are passed through unchanged. Error: {e}", e=str(exc))
            return {"documents": documents}
        out = []
        for d, r in zip(documents, results, strict=True):
            meta = {**d.meta, "raqo": {"applied": r.applied, "reason": r.reason, "concepts": r.concepts}}
            if r.applied:
                meta["raqo_original_content"] = d.content
                out.append(replace(d, content=r.rewritten_query, meta=meta))
            else:
                out.append(replace(d, meta=meta))
        return {"documents": out}

    @component.output_types(documents=list[Document])
    async def run_async(self, documents: list[Document]) -> dict[str, list[Document]]:
        await self.warm_up_async()
        return await asyncio.get_running_loop().run_in_executor(None, self.run, documents)
