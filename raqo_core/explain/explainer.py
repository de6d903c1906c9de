"""The explain API: a retriever and a gallery, then query (+ rewrite) × image → attributions, ranks, a figure."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from raqo_core.errors import RAQOError
from raqo_core.explain.attribution import DEFAULT_STEPS, PatchAttribution, TokenAttribution, attribute_image, attribute_text

IMAGE_CHOICES = ("target", "top1")


@dataclass
class TextSide:
    """One text (the query or its rewrite) against the chosen image."""

    tokens: TokenAttribution
    patches: PatchAttribution
    rank: int | None  # the image's rank for this text in the gallery (0 = top); None without a gallery
    concepts: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {**self.tokens.to_dict(), "image": self.patches.to_dict(), "rank": self.rank, "concepts": self.concepts}


@dataclass
class Explanation:
    query: TextSide
    rewrite: TextSide | None
    image: str  # the image's id (gallery) or path
    gallery: str | None  # "<data>:<split> (N images)"
    retriever: str
    reason: str = ""  # the rewriter's reason when it left the query alone

    def to_dict(self) -> dict[str, Any]:
        return {
            "retriever": self.retriever,
            "image": self.image,
            "gallery": self.gallery,
            "query": self.query.to_dict(),
            "rewrite": self.rewrite.to_dict() if self.rewrite else None,
            "reason": self.reason,
        }

    def save_png(self, path: str | os.PathLike[str]) -> Path:
        from raqo_core.explain.figure import draw

        return draw(self, Path(path))


class Explainer:
    """Attributions for one retriever (a spec or a loaded open_clip retriever), optionally over a gallery: the
    ``split`` images of a dataset (``data``: ``embedded`` or a folder), which gives ranks and lets ``image`` be a
    gallery id, ``target`` (the image the query describes) or ``top1`` (the query's top hit)."""

    def __init__(
        self,
        retriever: Any = "embedded",
        *,
        data: str | os.PathLike[str] | None = None,
        split: str = "test",
        steps: int = DEFAULT_STEPS,
        gallery_emb: np.ndarray | None = None,
    ) -> None:
        """``gallery_emb``: the split's image embeddings, when the caller has them (else they are encoded here)."""
        from raqo_core.explain.attribution import torch_model

        if isinstance(retriever, str):
            from raqo_core.retriever.registry import load_retriever

            retriever = load_retriever(retriever)
        torch_model(retriever)  # an ONNX-only retriever fails here, before any work
        if steps < 2:
            raise RAQOError(f"steps must be >= 2, got {steps}")
        self.retriever, self.steps, self.split = retriever, steps, split
        self.records: list[Any] = []
        self.gallery_emb: np.ndarray | None = None
        self.gallery_name: str | None = None
        self._paths: list[Path] = []
        if data is not None:
            from raqo_core.data.manifest import load_manifest

            root = _data_dir(data)
            m = load_manifest(root)
            self.records = m.split(split)
            if not self.records:
                raise RAQOError(f"split {split!r} of {str(root)!r} has no images; expected a split with images (train, val, test)")
            self._paths = [m.image_path(r) for r in self.records]
            if gallery_emb is not None and len(gallery_emb) != len(self._paths):
                raise RAQOError(f"gallery_emb has {len(gallery_emb)} rows for the {len(self._paths)} {split!r} images")
            self.gallery_emb = retriever.encode_images(self._paths, progress=False) if gallery_emb is None else np.asarray(gallery_emb)
            self.gallery_name = f"{data}:{split} ({len(self.records)} images)"

    # -- images ------------------------------------------------------------------------
    def _target(self, query: str) -> int:
        for i, r in enumerate(self.records):
            if query in r.captions or any(query in texts for texts in r.registers.values()):
                return i
        raise RAQOError(f"image='target': the query {query!r} is not a text of any {self.split!r} image; pass an image id or path")

    def resolve_image(self, image: str, query: str) -> tuple[str, Any, int | None]:
        """(label, what the retriever encodes, gallery index or None) for ``image``."""
        if image in IMAGE_CHOICES or not Path(image).is_file():
            if self.gallery_emb is None:
                raise RAQOError(f"image {image!r} is not a file; gallery ids, 'target' and 'top1' need a dataset (data=…)")
            if image == "target":
                i = self._target(query)
            elif image == "top1":
                q = self.retriever.encode_texts([query])[0]
                i = int(np.argmax(self.gallery_emb @ q))
            else:
                ids = {r.image_id: n for n, r in enumerate(self.records)}
                if image not in ids:
                    sample = ", ".join(repr(r.image_id) for r in self.records[:3])
                    raise RAQOError(
                        f"unknown image {image!r}: not a file and not an image id of {self.gallery_name}; "
                        f"expected a path, an id such as {sample}, or one of {IMAGE_CHOICES}"
                    )
                i = ids[image]
            return self.records[i].image_id, self._paths[i], i
        return str(image), Path(image), None

    # -- one explanation ---------------------------------------------------------------
    def _side(self, text: str, item: Any, img_emb: np.ndarray, index: int | None, concepts: list[str]) -> TextSide:
        t_emb = self.retriever.encode_texts([text])[0]
        tokens = attribute_text(self.retriever, text, img_emb, steps=self.steps)
        patches = attribute_image(self.retriever, item, t_emb, steps=self.steps)
        rank = None
        if self.gallery_emb is not None:
            sims = self.gallery_emb @ t_emb
            own = float(img_emb @ t_emb)
            # the image's rank among the gallery (itself excluded when it is a gallery image)
            others = np.delete(sims, index) if index is not None else sims
            rank = int((others > own).sum())
        return TextSide(tokens, patches, rank, concepts)

    def explain(
        self,
        query: str,
        *,
        image: str = "target",
        rewrite: str | None = None,
        rewriter: Any = None,
        concepts: list[str] | None = None,
    ) -> Explanation:
        """Attributions for ``query`` and its rewrite (``rewrite`` given, or computed by ``rewriter``) against ``image``."""
        if not isinstance(query, str) or not query.strip():
            raise RAQOError(f"the query to explain is empty ({query!r}); expected a query with at least one word")
        reason = ""
        if rewrite is None and rewriter is not None:
            [res] = rewriter.rewrite_batch([query])
            rewrite, concepts = (res.rewritten_query if res.applied else None), list(res.concepts or [])
            reason = "" if res.applied else str(res.reason)
        if rewrite is not None and not rewrite.strip():
            raise RAQOError("the rewrite to explain is empty; expected a rewritten query, or none")
        label, item, index = self.resolve_image(image, query)
        img_emb = self.gallery_emb[index] if index is not None and self.gallery_emb is not None else self.retriever.encode_images([item])[0]
        q = self._side(query, item, img_emb, index, list(concepts or []))
        w = self._side(rewrite, item, img_emb, index, []) if rewrite and rewrite != query else None
        return Explanation(q, w, label, self.gallery_name, getattr(self.retriever, "spec", "?"), reason)


def _data_dir(data: str | os.PathLike[str]) -> Path:
    if str(data) == "embedded":
        from raqo_core.paths import embedded_benchmark_dir

        return embedded_benchmark_dir(0)
    return Path(data)
