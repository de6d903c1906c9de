"""Evaluate a retriever (optionally behind a query rewriter) on a manifest split."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from raqo_core.data.manifest import Manifest, load_manifest
from raqo_core.errors import RAQOError
from raqo_core.evaluation.recall import chunked_similarity_ranks, i2t_ranks, recall_at_k
from raqo_core.retriever.base import Retriever, check_dim

if TYPE_CHECKING:
    from raqo_core.rewriter.rewriter import RewriterConfig

TextMap = Callable[[Sequence[str]], list[str]]


@dataclass
class EvalSetup:
    """What to evaluate: split, caption register and an optional query limit."""

    split: str = field(default="test", metadata={"help": "manifest split to evaluate"})
    register: str = field(default="captions", metadata={"help": "caption register used as queries"})
    limit: int | None = field(default=None, metadata={"help": "evaluate the first N queries per direction (against the full gallery)"})
    batch_size: int = field(default=128, metadata={"help": "encoding batch size"})
    progress: bool = True

    def validate(self) -> None:
        if self.limit is not None and self.limit < 1:
            raise RAQOError(f"limit must be a positive number of queries, got {self.limit}")


def evaluate(
    data: str | Manifest,
    retriever: Retriever,
    setup: EvalSetup | None = None,
    *,
    rewrite_queries: TextMap | None = None,
    rewrite_gallery: TextMap | None = None,
    image_embeddings: np.ndarray | None = None,
) -> dict[str, Any]:
    """Recall@1/5/10 for T2I and I2T on ``setup.split``.

    T2I: every caption (of ``setup.register``) of a split image queries the split's images.
    I2T: every split image queries all those captions; a hit if any of its own is in the top K.
    ``limit`` evaluates the first N queries of each direction against the *full* gallery, so
    numbers stay comparable with unlimited runs. ``rewrite_queries`` maps T2I query texts
    (the rewriter hook); ``rewrite_gallery`` maps the I2T text gallery before encoding.
    """
    setup = setup or EvalSetup()
    setup.validate()
    manifest = data if isinstance(data, Manifest) else load_manifest(data)
    records = manifest.split(setup.split)
    if not records:
        raise RAQOError(f"split {setup.split!r} has no records in {manifest.root}")
    texts: list[str] = []
    owner: list[int] = []
    for i, r in enumerate(records):
        for t in r.texts(setup.register):
            texts.append(t)
            owner.append(i)
    t0 = time.time()
    if image_embeddings is None:
        image_embeddings = retriever.encode_images(
            [manifest.image_path(r) for r in records], batch_size=setup.batch_size, progress=setup.progress
        )
    check_dim(image_embeddings, retriever.dim, "image embeddings")
    if len(image_embeddings) != len(records):
        raise RAQOError(f"got {len(image_embeddings)} image embeddings for {len(records)} {setup.split} images")
    n_t2i = len(texts) if setup.limit is None else min(setup.limit, len(texts))
    queries = texts[:n_t2i]
    if rewrite_queries is not None:
        queries = list(rewrite_queries(queries))
        if len(queries) != n_t2i:
            raise RAQOError(f"rewrite_queries returned {len(queries)} texts for {n_t2i} queries")
    q_emb = retriever.encode_texts(queries, batch_size=setup.batch_size, progress=setup.progress)
    t2i = chunked_similarity_ranks(q_emb, image_embeddings, owner[:n_t2i])
    gallery_texts = texts if rewrite_gallery is None else list(rewrite_gallery(texts))
    if len(gallery_texts) != len(texts):
        raise RAQOError(f"rewrite_gallery returned {len(gallery_texts)} texts for {len(texts)} captions")
    reuse = rewrite_queries is None and rewrite_gallery is None and n_t2i == len(texts)
    g_emb = q_emb if reuse else retriever.encode_texts(gallery_texts, batch_size=setup.batch_size, progress=setup.progress)
    n_i2t = len(records) if setup.limit is None else min(setup.limit, len(records))
    # Captions of images beyond the limit stay in the gallery as distractors (owner -1).
    i2t_owner = np.array([o if o < n_i2t else -1 for o in owner], dtype=np.int64)
    i2t = i2t_ranks(image_embeddings[:n_i2t] @ g_emb.T, i2t_owner)
    return {
        "t2i": recall_at_k(t2i),
        "i2t": recall_at_k(i2t),
        "n_queries": {"t2i": int(n_t2i), "i2t": int(n_i2t)},
        "gallery": {"images": len(records), "texts": len(texts)},
        "split": setup.split,
        "register": setup.register,
        "retriever": retriever.spec,
        "fingerprint": retriever.fingerprint,
        "seconds": round(time.time() - t0, 2),
        "t2i_ranks": t2i.tolist(),  # per query and per image (0 = the target first), for paired comparisons
        "i2t_ranks": i2t.tolist(),
    }


def evaluate_run(
    manifest: Manifest,
    retriever: Retriever,
    setup: EvalSetup,
    rewriter: str | None = None,
    config: RewriterConfig | None = None,
    *,
    rewrite_gallery: bool = True,
) -> tuple[str, dict[str, Any]]:
    """``raqo eval``: recall with the rewriter ``rewriter`` (built offline and disk-cached from ``config``)
    in front, or none. Returns the row label and the JSON-ready result (with the rewriter's settings)."""
    label = f"{retriever.spec} [{setup.register}]"
    hooks: dict[str, Any] = {}
    if rewriter:
        from raqo_core.rewriter.factory import build_rewriter, offline_config

        cfg = offline_config(config)
        text_map = build_rewriter(rewriter, cfg, disk_cache=True).load().as_text_map()
        hooks = {"rewrite_queries": text_map, "rewrite_gallery": text_map if rewrite_gallery else None}
        label += f" + {rewriter}"
    res = evaluate(manifest, retriever, setup, **hooks)
    res.pop("t2i_ranks"), res.pop("i2t_ranks")
    if rewriter:
        from raqo_core.rewriter.lookup import effective_lookup

        c = asdict(cfg)
        lookup = None if rewriter == "lookup" else effective_lookup(cfg, rewriter)  # the lookup baseline is one
        res["rewriter"] = {
            "name": rewriter,
            **{k: c[k] for k in ("model", "adapter", "mode", "backend")},
            "grounded": c["grounded_concepts"],
            "lookup": lookup and f"{lookup} ({c['lookup_order']})",  # what ran before (or after) it; None: the rewriter alone
        }
    return label, res
