"""Compare query rewriters on the same queries, with paired confidence intervals.

``raqo compare`` answers "is my new adapter really better than the old one?": every row is
evaluated on the same T2I queries against the same image gallery, and each row is paired with
the first (the reference) query by query (:mod:`raqo_core.evaluation.paired`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from raqo_core.data.manifest import Manifest
from raqo_core.errors import RAQOError
from raqo_core.evaluation.evaluate import EvalSetup, TextMap, evaluate
from raqo_core.evaluation.paired import paired_bootstrap
from raqo_core.evaluation.recall import DEFAULT_KS, recall_at_k
from raqo_core.rewriter.factory import RewriterSpec

if TYPE_CHECKING:
    from raqo_core.rewriter.rewriter import RewriterConfig


class Row(NamedTuple):
    name: str
    spec: RewriterSpec  # none, a baseline, or ADAPTER[@MODE][#BACKEND]


def parse_row(row: str) -> Row:
    """``NAME=SPEC`` → :class:`Row`; ``SPEC`` is a rewriter spec (:class:`~raqo_core.rewriter.factory.RewriterSpec`):
    ``none`` (no rewriting), a baseline name, or ``ADAPTER[@recot|@ungrounded|@direct][+lookup][#BACKEND]``.
    ``+lookup`` follows the rewrite with the embedded look-up; ``ungrounded`` is ReCoT with the concept line unconstrained; ``#BACKEND`` runs that row on another engine
    (``#llamacpp:q8_0``, ``#openai:http://127.0.0.1:8080/v1``), so engines compare paired."""
    name, sep, rest = row.partition("=")
    if not sep or not name.strip() or not rest.strip():
        raise RAQOError(f"row {row!r} is not NAME=ADAPTER[@MODE][#BACKEND], NAME=<baseline> or NAME=none")
    try:
        return Row(name.strip(), RewriterSpec.parse(rest))
    except RAQOError as exc:
        raise RAQOError(f"row {row!r}: {exc}") from None


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


def compare_specs(
    manifest: Manifest,
    retriever: Any,
    rows: Mapping[str, RewriterSpec],
    setup: EvalSetup,
    base: RewriterConfig | None = None,
    *,
    n_boot: int = 2000,
    seed: int = 0,
) -> dict[str, Any]:
    """``raqo compare``: build each row's rewriter from its spec on top of ``base`` (offline, disk-cached),
    then :func:`compare_rewriters`; the result also records each row's adapter, mode and engine."""
    from raqo_core.rewriter.factory import offline_config

    cfg = offline_config(base)
    maps: dict[str, TextMap | None] = {}
    seen: dict[str, list[Any]] = {}
    for name, spec in rows.items():
        rw = spec.build(cfg, disk_cache=True)
        maps[name] = None if rw is None else _recording(rw.load(), seen.setdefault(name, []))
    res = compare_rewriters(manifest, retriever, maps, setup, n_boot=n_boot, seed=seed)
    res["rows"] = {name: spec.describe(cfg) for name, spec in rows.items()}
    res["outcomes"] = {name: outcome_counts(results) for name, results in seen.items()}
    return res


OUTCOMES = (
    "rewritten",
    "looked up and rewritten",
    "looked up",
    "no challenging concepts",
    "unparseable",
    "guard",
    "timeout or cut off",
    "error",
    "other",
)


def outcome(reason: str) -> str:
    """The outcome class of a :class:`~raqo_core.rewriter.result.RewriteResult` ``reason`` (one of :data:`OUTCOMES`):
    ``looked up`` when only the look-up changed the query (the model found nothing, or failed, after it)."""
    if reason == "rewritten":
        return "rewritten"
    if reason in ("rewritten+lookup", "lookup+rewritten"):
        return "looked up and rewritten"
    if reason == "lookup" or reason.startswith("lookup (model: "):
        return "looked up"
    if reason == "no challenging concepts":
        return "no challenging concepts"
    for prefix, name in (
        ("unparseable", "unparseable"),
        ("guard", "guard"),
        ("timeout", "timeout or cut off"),
        ("truncated", "timeout or cut off"),
        ("error", "error"),
    ):
        if reason.startswith(prefix):
            return name
    return "other"


def model_unparseable(reason: str) -> bool:
    """Whether the model's answer could not be parsed, also where a look-up still changed the query."""
    return reason.startswith("unparseable") or reason.startswith("lookup (model: unparseable")


def outcome_counts(results: list[Any]) -> dict[str, Any]:
    """How many rewrites ended each way, and the share of the model's answers that were unparseable (in %),
    those behind a look-up included."""
    counts = dict.fromkeys(OUTCOMES, 0)
    for r in results:
        counts[outcome(r.reason)] += 1
    n = len(results)
    bad = sum(model_unparseable(r.reason) for r in results)
    return {"n": n, "counts": counts, "model_unparseable": bad, "unparseable_pct": round(100.0 * bad / n, 2) if n else 0.0}


def _recording(rw: Any, sink: list[Any]) -> TextMap:
    """``rw``'s text map that also keeps every :class:`RewriteResult` in ``sink`` (for the outcome counts)."""

    def run(texts: Any) -> list[str]:
        results = rw.rewrite_batch(list(texts))
        sink.extend(results)
        return [r.rewritten_query for r in results]

    return run


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
    outcomes = result.get("outcomes") or {}
    if outcomes:
        lines += ["", "| row | queries | " + " | ".join(OUTCOMES) + " | unparseable % |", "|---|---|" + "---|" * (len(OUTCOMES) + 1)]
        for name, o in outcomes.items():
            lines.append(
                f"| {name} | {o['n']} | " + " | ".join(str(o["counts"].get(k, 0)) for k in OUTCOMES) + f" | {o['unparseable_pct']:.1f} |"
            )
    return "\n".join(lines)
