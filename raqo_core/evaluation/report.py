"""Results people compare: markdown tables and a PNG chart."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

KEYS = ("R@1", "R@5", "R@10")


def markdown_table(rows: Mapping[str, Mapping[str, Any]], directions: Sequence[str] = ("t2i", "i2t")) -> str:
    """One row per setting: ``rows[name] = {"t2i": {"R@1": ..}, "i2t": {...}, "n_queries": ...}``."""
    head = ["setting"] + [f"{d.upper()} {k}" for d in directions for k in KEYS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, res in rows.items():
        cells = [name]
        for d in directions:
            for k in KEYS:
                v = res.get(d, {}).get(k) if isinstance(res.get(d), Mapping) else None
                cells.append("–" if v is None else f"{v:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def recall_chart(rows: Mapping[str, Mapping[str, Any]], out: str | Path, title: str = "Recall@K") -> Path:
    """Grouped bars of R@1/5/10 per setting, one panel per direction; written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from raqo_core.io import atomic_open

    directions = [d for d in ("t2i", "i2t") if any(isinstance(r.get(d), Mapping) for r in rows.values())]
    fig, axes = plt.subplots(1, len(directions), figsize=(5.5 * len(directions), 3.8), squeeze=False)
    names = list(rows)
    width = 0.8 / max(1, len(names))
    for ax, d in zip(axes[0], directions, strict=True):
        for i, name in enumerate(names):
            vals = [rows[name].get(d, {}).get(k, 0.0) if isinstance(rows[name].get(d), Mapping) else 0.0 for k in KEYS]
            xs = [j + (i - (len(names) - 1) / 2) * width for j in range(len(KEYS))]
            bars = ax.bar(xs, vals, width, label=name)
            ax.bar_label(bars, fmt="%.0f", fontsize=7)
        ax.set_xticks(range(len(KEYS)), KEYS)
        ax.set_ylim(0, 105)
        ax.set_ylabel("recall (%)")
        ax.set_title(f"{title} — {d.upper()}")
        ax.grid(axis="y", alpha=0.3)
    axes[0][-1].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    out = Path(out)
    with atomic_open(out, "wb") as fh:
        fig.savefig(fh, format="png", dpi=120)
    plt.close(fig)
    return out
