"""Compare query rewriters on the same queries, with paired confidence intervals.

``raqo compare`` answers "is my new adapter really better than the old one?": every row is
evaluated on the same T2I queries against the same image gallery, and each row is paired with
the first (the reference) query by query (:mod:`raqo_core.evaluation.paired`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from raqo_core.data.manifest import Manifest
from raqo_core.errors import RAQOError
from raqo_core.evaluation.evaluate import EvalSetup, TextMap, evaluate
from raqo_core.evaluation.paired import paired_bootstrap
from raqo_core.evaluation.recall import DEFAULT_KS, recall_at_k

BASELINES = ("wordnet", "llm-rewrite", "visual-description")
ROW_MODES = ("recot", "ungrounded", "direct")


class Row(NamedTuple):
    name: str
    adapter: str | None  # None: no rewriting; a baseline name; or a RAQO adapter
    mode: str
    backend: str | None = None  # the rewriter engine (None: the command's --backend)


def parse_row(spec: str) -> Row:
    """``NAME=ADAPTER[@MODE][#BACKEND]``, ``NAME=<baseline>`` or ``NAME=none`` → :class:`Row`.

    The target is None (no rewriting), a baseline name from :data:`BASELINES` or a RAQO adapter
    (folder or hub id). Adapter folders may contain ``:`` and ``+`` (``direct:qre+pro``), hence ``@``
    and ``#``. Modes: ``recot`` (default; grounded concepts), ``ungrounded`` (recot, the concept line
    unconstrained) and ``direct``. ``#BACKEND`` runs that row on another engine
    (``#llamacpp:q8_0``, ``#openai:http://127.0.0.1:8080/v1``), so engines compare paired.
    """
    name, sep, rest = spec.partition("=")
    if not sep or not name.strip() or not rest.strip():
        raise RAQOError(f"row {spec!r} is not NAME=ADAPTER[@MODE][#BACKEND], NAME=<baseline> or NAME=none")
    rest, hash_, backend = rest.partition("#")
    if hash_:
        from raqo_core.rewriter.engines import parse_backend

        parse_backend(backend)
    adapter, _, mode = rest.rpartition("@") if "@" in rest else (rest, "", "recot")
    if mode not in ROW_MODES:
        raise RAQOError(f"row {spec!r}: mode {mode!r} is not one of {ROW_MODES}")
    target = None if adapter.strip().lower() == "none" else adapter.strip()
    if hash_ and (target is None or target in BASELINES):
        raise RAQOError(f"row {spec!r}: only a RAQO adapter row takes a #BACKEND")
    return Row(name.strip(), target, mode, backend.strip() if hash_ else None)


def compare_rewriters(
    manifest: Manifest,
    retriever: Any,
    rows: Mapping[str, TextMap | None],
    setup: EvalSetup,
    *,
    ks: tuple[int, ...] = DEFAULT_KS,
    n_boot: int = 2000,
    seed: int = 0,
) -> dict[str, Any]:
    """T2I recall per row, each row minus the first row (the reference) per query, and every row's
    per-query ranks (0 = the target image first), so later analyses can pool runs without re-ranking."""
    if len(rows) < 2:
        raise RAQOError(f"compare needs at least two rows (a reference and one more), got {len(rows)}: {list(rows)}")
    records = manifest.split(setup.split)
    if not records:
        raise RAQOError(f"split {setup.split!r} has no records in {manifest.root}")
    img = retriever.encode_images([manifest.image_path(r) for r in records], progress=setup.progress)
    ranks: dict[str, np.ndarray] = {}
    for name, text_map in rows.items():
        res = evaluate(manifest, retriever, setup, rewrite_queries=text_map, image_embeddings=img)
        ranks[name] = np.asarray(res["t2i_ranks"])
    ref_name = next(iter(rows))
    ref = ranks[ref_name]
    return {
        "reference": ref_name,
        "split": setup.split,
        "register": setup.register,
        "n_queries": int(ref.size),
        "recall": {name: recall_at_k(r, ks) for name, r in ranks.items()},
        "paired": {
            name: {f"R@{k}": paired_bootstrap(r, ref, k=k, n_boot=n_boot, seed=seed).to_dict() for k in ks}
            for name, r in ranks.items()
            if name != ref_name
        },
        "ranks": {name: r.tolist() for name, r in ranks.items()},
    }


def compare_markdown(result: Mapping[str, Any]) -> str:
    """One table: recall per row, then Δ vs the reference with its 95 % interval and sign-test p."""
    ks = list(next(iter(result["recall"].values())))
    head = "| row | " + " | ".join(ks) + " | " + " | ".join(f"Δ{k} [95 % CI] (row-only vs ref-only, p)" for k in ks) + " |"
    lines = [head, "|---|" + "---|" * (2 * len(ks))]
    for name, rec in result["recall"].items():
        cells = [f"{rec[k]:.1f}" for k in ks]
        pair = result["paired"].get(name)
        if pair is None:
            deltas = ["reference"] * len(ks)
        else:
            deltas = [
                f"{p['delta']:+.1f} [{p['low']:+.1f}, {p['high']:+.1f}] ({p['a_only']} vs {p['b_only']}, p={p['p_value']:.2f})"
                for p in (pair[k] for k in ks)
            ]
        lines.append(f"| {name} | " + " | ".join(cells + deltas) + " |")
    return "\n".join(lines)
