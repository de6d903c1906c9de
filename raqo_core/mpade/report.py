"""A human-readable MPADE report (interpretability is a selling point) and a concept chart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from raqo_core.io import atomic_open, atomic_write_text


def write_report(out: Path, meta: dict[str, Any], lexicon: list[dict[str, Any]] | None = None) -> Path:
    c = meta.get("counts", {})
    lines = [
        "# MPADE report",
        "",
        f"Retriever `{meta['retriever']}` (`{meta['retriever_fingerprint']}`), agent `{meta['agent']['name']}`.",
        "",
        "## Queries",
        "",
        "| labels | count |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in meta["labels"].items()],
        "",
        "## Datasets",
        "",
        "| file | records |",
        "|---|---|",
        f"| D_CCR.jsonl | {c.get('D_CCR', 0)} (of which None: {c.get('D_CCR_none', 0)}) |",
        f"| D_QRE.jsonl | {c.get('D_QRE', 0)} |",
        f"| D_PRO.jsonl | {c.get('D_PRO', 0)} |",
        "",
        f"Ambiguous queries with ≥1 accepted rewrite: {c.get('ambiguous_with_rewrite', 0)} of {c.get('ambiguous', 0)}; "
        f"accepted rewrites per ambiguous query: {meta.get('accepted_rewrites_per_ambiguous_query', 0)}; "
        f"perturbations used as ambiguous variants: {c.get('perturbations', 0)} "
        f"(of {c.get('perturbations_mined', c.get('perturbations', 0))} mined).",
        "",
        f"Filtering (MiniLM similarity ≥ {meta['filtering']['threshold']}) dropped {meta['filtering']['dropped']['rewrites']} rewrites "
        f"and {meta['filtering']['dropped']['perturbations']} perturbations.",
        "",
        "## Acceptance by round (share of ambiguous queries with an accepted rewrite)",
        "",
        "| round | share |",
        "|---|---|",
        *[f"| {i + 1} | {100 * v:.1f} % |" for i, v in enumerate(meta.get("acceptance_by_round", []))],
        "",
        "## PRO list lengths",
        "",
        "| candidates | lists |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in meta.get("pro_list_lengths", {}).items()],
        "",
        "## Top challenging concepts",
        "",
        "| concept | count |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in meta.get("top_concepts", [])],
        "",
        *(_lexicon_section(lexicon) if lexicon else []),
        "## Examples",
        "",
        *[f"- `{e['query']}` → concepts {e['concepts'] or 'None'} → `{e['rewrite']}`" for e in meta.get("examples", [])],
        "",
        "## Timings",
        "",
        *[f"- {k}: {v}" for k, v in meta.get("timings", {}).items()],
        "",
    ]
    path = atomic_write_text(out / "report.md", "\n".join(lines))
    top = meta.get("top_concepts", [])[:20]
    if top:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 0.3 * len(top) + 1))
        ax.barh([k for k, _ in top][::-1], [v for _, v in top][::-1], color="#4c72b0")
        ax.set_xlabel("queries")
        ax.set_title("Concepts this retriever misreads (MPADE)")
        fig.tight_layout()
        with atomic_open(out / "concepts.png", "wb") as fh:
            fig.savefig(fh, format="png", dpi=110)
        plt.close(fig)
    return path


def _lexicon_section(rows: list[dict[str, Any]]) -> list[str]:
    """The preference lexicon's top rows (the full table: preferences.md, the chart: preferences.png)."""
    from raqo_core.mpade.preferences import table_lines

    return [
        "## What this retriever misreads (preference lexicon)",
        "",
        *table_lines(rows[:10]),
        "",
        "All concepts: `preferences.md`; chart: `preferences.png`.",
        "",
    ]
