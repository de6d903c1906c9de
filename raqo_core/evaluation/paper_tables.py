"""``raqo report``: the paper's tables on the embedded benchmark, as JSON, markdown and a PNG.

- Table 1 analogue: NA, +WordNetExpansion, +VisualDescriptionAppend, +LLMRewrite, +RAQO and the
  plain-caption oracle; T2I and I2T R@1/5/10.
- Table 4 analogue: the ablation adapters trained by ``raqo train`` (no ReCoT; w/o D_CCR, D_QRE, D_PRO).
- The transfer split: user queries carrying held-out rare words; the paraphrase register: queries worded with
  synonyms and framings nothing in the benchmark, MPADE or training saw (:mod:`raqo_core.data.paraphrase`).
  Both with RAQO alone and, with ``lookup``, RAQO followed by the retriever look-up (:mod:`raqo_core.lookup`).

Rewriting thousands of queries with an LLM on a CPU takes long, so T2I uses the first
``t2i_limit`` user queries against the full test gallery, and I2T uses the first ``i2t_images``
test images as queries against *their* captions (a smaller text gallery whose captions are
rewritten too). Rewrites are cached on disk, so a re-run costs nothing.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from raqo_core.data.manifest import Manifest, Record, load_manifest
from raqo_core.evaluation.evaluate import EvalSetup, evaluate
from raqo_core.evaluation.paired import PairedDelta, paired_bootstrap


def _subset(m: Manifest, n_images: int) -> Manifest:
    test = m.split("test")[:n_images]
    return Manifest(m.root, [Record(r.image_id, r.image, r.captions, r.split, r.registers) for r in test])


def evaluate_rewriter(
    m: Manifest, retriever: Any, rewriter: Any, *, register: str, t2i_limit: int, i2t_images: int, img_emb: Any = None, oracle: bool = False
) -> dict[str, Any]:
    rq = rewriter.as_text_map() if rewriter is not None else None
    t2i = evaluate(
        m,
        retriever,
        EvalSetup(register="captions" if oracle else register, limit=t2i_limit, progress=False),
        rewrite_queries=rq,
        image_embeddings=img_emb,
    )
    sub = _subset(m, i2t_images)
    i2t = evaluate(
        sub,
        retriever,
        EvalSetup(register="captions" if oracle else register, progress=False),
        rewrite_gallery=rq,
        image_embeddings=None if img_emb is None else img_emb[:i2t_images],
    )
    return {
        "t2i_ranks": t2i["t2i_ranks"],  # kept for paired comparisons; dropped before writing JSON
        "i2t_ranks": i2t["i2t_ranks"],
        "t2i": t2i["t2i"],
        "i2t": i2t["i2t"],
        "n_queries": {"t2i": t2i["n_queries"]["t2i"], "i2t": i2t_images},
        "i2t_gallery_texts": i2t["gallery"]["texts"],
    }


def paired_vs_full(full: dict[str, Any] | None, table4: dict[str, Any]) -> dict[str, list[PairedDelta]]:
    """Full recipe minus each ablation row, per query (see :mod:`raqo_core.evaluation.paired`)."""
    base = table4.get("full") or full
    if not base or "t2i_ranks" not in base:
        return {}
    ranks = np.asarray(base["t2i_ranks"])
    return {
        name: [paired_bootstrap(ranks, np.asarray(row["t2i_ranks"]), k=k) for k in (1, 5, 10)]
        for name, row in table4.items()
        if name != "full" and "t2i_ranks" in row
    }


def run_report(
    *,
    data: str | Path,
    retriever: Any,
    adapters: dict[str, str],
    out: str | Path,
    t2i_limit: int = 500,
    i2t_images: int = 100,
    baselines: bool = True,
    model: str = "embedded",
    explain: int = 4,
    explain_limit: int = 200,
    lookup: str | None = None,
) -> dict[str, Any]:
    """The paper's tables (and, with ``explain`` > 0 and a full adapter, a gallery of that many attribution figures
    plus concept statistics over the first ``explain_limit`` user queries) in ``out``. ``lookup`` (a look-up made
    for ``retriever``: ``"embedded"`` or a folder) adds the +RAQO+lookup rows."""
    from raqo_core.evaluation.report import markdown_table, recall_chart
    from raqo_core.io import atomic_write_json, atomic_write_text
    from raqo_core.rewriter.factory import build_rewriter, offline_config

    t0 = time.time()
    m = load_manifest(data)
    test = m.split("test")
    img_emb = retriever.encode_images([m.image_path(r) for r in test])
    kw = {"t2i_limit": t2i_limit, "i2t_images": i2t_images, "img_emb": img_emb}

    def rw(name: str, **extra: Any) -> Any:  # offline: no latency budget, no timeouts; cached on disk
        if name == "raqo":  # every adapter is checked against the retriever it is evaluated with
            extra.setdefault("retriever_fingerprint", retriever.fingerprint)
        extra.setdefault("lookup", None)  # the +RAQO rows are the adapter alone; the +RAQO+lookup rows name one
        return build_rewriter(name, offline_config(model=model, **extra), disk_cache=True).load()

    table1: dict[str, Any] = {"NA": evaluate_rewriter(m, retriever, None, register="user", **kw)}
    if baselines:
        table1["+WordNetExpansion"] = evaluate_rewriter(m, retriever, rw("wordnet"), register="user", **kw)
        table1["+VisualDescriptionAppend"] = evaluate_rewriter(m, retriever, rw("visual-description"), register="user", **kw)
        table1["+LLMRewrite"] = evaluate_rewriter(m, retriever, rw("llm-rewrite"), register="user", **kw)
    full = adapters.get("full")
    if full:
        table1["+RAQO"] = evaluate_rewriter(m, retriever, rw("raqo", adapter=full), register="user", **kw)
    table1["oracle (plain captions)"] = evaluate_rewriter(m, retriever, None, register="user", oracle=True, **kw)
    table4: dict[str, Any] = {}
    for name, path in adapters.items():
        mode = "direct" if name == "no_recot" else "recot"
        table4[name] = evaluate_rewriter(m, retriever, rw("raqo", adapter=path, mode=mode), register="user", **kw)
    if full and lookup:
        table1["+RAQO+lookup"] = evaluate_rewriter(m, retriever, rw("raqo", adapter=full, lookup=lookup), register="user", **kw)
    unseen: dict[str, dict[str, Any]] = {}  # registers with words MPADE never mined: transfer, paraphrase
    for register in [r for r in ("transfer", "paraphrase") if r in m.registers()]:
        rows = unseen[register] = {"NA": evaluate_rewriter(m, retriever, None, register=register, **kw)}
        if full:
            rows["+RAQO"] = evaluate_rewriter(m, retriever, rw("raqo", adapter=full), register=register, **kw)
        if full and lookup:
            rows["+RAQO+lookup"] = evaluate_rewriter(m, retriever, rw("raqo", adapter=full, lookup=lookup), register=register, **kw)
    paired = paired_vs_full(table1.get("+RAQO"), table4)
    for row in (*table1.values(), *table4.values(), *(r for rows in unseen.values() for r in rows.values())):
        row.pop("t2i_ranks", None), row.pop("i2t_ranks", None)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    result = {
        "retriever": retriever.spec,
        "fingerprint": retriever.fingerprint,
        "adapters": adapters,
        "settings": {"t2i_limit": t2i_limit, "i2t_images": i2t_images, "register": "user", "lookup": lookup},
        "table1": table1,
        "table4": table4,
        "table4_paired": {name: {f"R@{d.k}": d.to_dict() for d in ds} for name, ds in paired.items()},
        **unseen,
        "seconds": round(time.time() - t0, 1),
    }
    atomic_write_json(out / "report.json", result)
    md = [
        f"# RAQO on the embedded benchmark (retriever `{retriever.fingerprint}`)",
        "",
        f"T2I: first {t2i_limit} user queries vs the full {len(test)}-image test gallery. "
        f"I2T: first {i2t_images} test images vs their {i2t_images * 5} (rewritten) captions.",
        "",
        "## Table 1 analogue",
        "",
        markdown_table(table1),
        "",
    ]
    if table4:
        md += ["## Table 4 analogue (ablations)", "", markdown_table(table4), ""]
    if paired:
        md += [
            "Paired with the full recipe on the same queries: full minus row, in points, with a 95 % bootstrap",
            "interval, the queries only full / only the row gets right, and the exact sign-test p-value.",
            "",
            "| row | " + " | ".join(f"Δ R@{d.k}" for d in next(iter(paired.values()))) + " |",
            "|---|" + "---|" * len(next(iter(paired.values()))),
            *(f"| {name} | " + " | ".join(str(d) for d in ds) + " |" for name, ds in paired.items()),
            "",
        ]
    titles = {"transfer": "Transfer split (held-out rare words)", "paraphrase": "Paraphrase register (synonyms and framings nothing saw)"}
    for name, table in unseen.items():
        md += [f"## {titles[name]}", "", markdown_table(table), ""]
    if explain > 0 and full:
        from raqo_core.explain import Explainer
        from raqo_core.explain.gallery import report_section

        ex = Explainer(retriever, data=data, split="test", gallery_emb=img_emb)
        queries = [t for r in test for t in r.texts("user")][: max(explain_limit, 1)]
        md += report_section(ex, rw("raqo", adapter=full).rewrite_batch(queries), out / "explain", n=explain)
    atomic_write_text(out / "report.md", "\n".join(md))
    recall_chart(table1, out / "report.png", title="Embedded benchmark")
    return result


def report_from_run(
    *,
    config: str | None = None,
    runs: str | Path = "runs",
    adapter: str | None = None,
    data: str | None = None,
    retriever: str = "embedded",
    t2i_limit: int | None = None,
    i2t_images: int | None = None,
    baselines: bool = True,
    out: str | Path = "results/report",
    explain: int = 4,
    lookup: str | None = "auto",
) -> dict[str, Any]:
    """``raqo report``: the adapters of a training run (``config``'s run folder under ``runs``: the full recipe
    and every ablation variant trained), or one ``adapter``; limits default to the config's ``eval`` settings.
    ``lookup``: the look-up rows' look-up (``"auto"``: the one the full adapter names in its ``raqo_adapter.json``,
    else the shipped one for the embedded retriever, else none)."""
    from raqo_core.paths import embedded_benchmark_dir
    from raqo_core.retriever.registry import load_retriever

    adapters: dict[str, str] = {}
    if config:
        from raqo_core.training.pipeline import TrainConfig, trained_adapters

        cfg = TrainConfig.from_yaml(config)
        t2i_limit = t2i_limit or cfg.eval.get("t2i_limit")
        i2t_images = i2t_images or cfg.eval.get("i2t_images")
        adapters = trained_adapters(cfg, runs)
    if adapter:
        adapters["full"] = adapter
    if lookup == "auto":
        from raqo_core.rewriter.factory import config_with
        from raqo_core.rewriter.lookup import adapter_lookup

        own = adapter_lookup(config_with(adapter=adapters["full"])) if adapters.get("full") else None
        lookup = own or ("embedded" if retriever == "embedded" else None)
    return run_report(
        data=data or str(embedded_benchmark_dir(0)),
        retriever=load_retriever(retriever),
        adapters=adapters,
        out=out,
        t2i_limit=t2i_limit or 500,
        i2t_images=i2t_images or 100,
        baselines=baselines,
        explain=explain,
        lookup=lookup,
    )
