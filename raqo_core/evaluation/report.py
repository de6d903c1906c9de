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


def chart_panels(rows: Mapping[str, Mapping[str, Any]]) -> dict[str, list[str]]:
    """Direction → the settings that have figures for it, in row order (directions without any are dropped)."""
    panels = {d: [n for n, r in rows.items() if isinstance(r.get(d), Mapping)] for d in ("t2i", "i2t")}
    return {d: names for d, names in panels.items() if names}


def recall_chart(rows: Mapping[str, Mapping[str, Any]], out: str | Path, title: str = "Recall@K") -> Path:
    """Grouped bars of R@1/5/10 per setting, one panel per direction; written atomically.

    A setting without figures for a direction (a T2I-only row) is left out of that panel rather than
    drawn as zeros; each setting keeps its colour across panels, and the legend sits outside them.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = chart_panels(rows)
    colours = {name: plt.get_cmap("tab10" if len(rows) <= 10 else "tab20")(i) for i, name in enumerate(rows)}
    fig, axes = plt.subplots(1, max(1, len(panels)), figsize=(5.5 * max(1, len(panels)) + 2.2, 3.8), squeeze=False)
    for ax, (d, names) in zip(axes[0], panels.items(), strict=False):
        width = 0.8 / max(1, len(names))
        for i, name in enumerate(names):
            vals = [rows[name][d].get(k, 0.0) for k in KEYS]
            xs = [j + (i - (len(names) - 1) / 2) * width for j in range(len(KEYS))]
            bars = ax.bar(xs, vals, width, label=name, color=colours[name])
            ax.bar_label(bars, fmt="%.0f", fontsize=7)
        ax.set_xticks(range(len(KEYS)), KEYS)
        ax.set_ylim(0, 105)
        ax.set_ylabel("recall (%)")
        ax.set_title(f"{title} — {d.upper()}")
        ax.grid(axis="y", alpha=0.3)
    return _legend_and_save(fig, {n: colours[n] for n in rows}, 2.2, out)


def _legend_and_save(fig: Any, colours: Mapping[str, Any], legend_inches: float, out: str | Path) -> Path:
    """A legend of coloured boxes in a right-hand column ``legend_inches`` wide; the PNG written atomically."""
    import matplotlib.pyplot as plt

    from raqo_core.io import atomic_open

    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in colours.values()]
    fig.legend(handles, list(colours), fontsize=8, loc="center right", frameon=False)
    fig.tight_layout(rect=(0, 0, 1 - legend_inches / fig.get_figwidth(), 1))
    out = Path(out)
    with atomic_open(out, "wb") as fh:
        fig.savefig(fh, format="png", dpi=120)
    plt.close(fig)
    return out


def register_grid(rows: Mapping[str, Mapping[str, Any]], direction: str = "t2i") -> tuple[list[str], list[str]]:
    """Rows named ``"REGISTER: METHOD"`` → (registers, methods), each in first-seen order.

    Raises ``ValueError`` naming the first row that is not ``"register: method"`` or has no figures for ``direction``.
    """
    registers: list[str] = []
    methods: list[str] = []
    for name, res in rows.items():
        register, sep, method = name.partition(": ")
        if not sep or not register or not method:
            raise ValueError(f"row {name!r} is not named 'register: method' (e.g. 'user: NA')")
        if not isinstance(res.get(direction), Mapping):
            raise ValueError(f"row {name!r} has no {direction.upper()} figures")
        registers += [register] if register not in registers else []
        methods += [method] if method not in methods else []
    return registers, methods


def register_chart(rows: Mapping[str, Mapping[str, Any]], out: str | Path, title: str = "", direction: str = "t2i") -> Path:
    """One panel per R@K; in each, the registers side by side and one bar per method (NA first, as the rows come).

    Rows are named ``"register: method"`` (as ``raqo demo`` writes them). A method missing on a register leaves a
    gap rather than a zero. Written atomically.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    registers, methods = register_grid(rows, direction)
    cmap = plt.get_cmap("tab10")
    fig, axes = plt.subplots(1, len(KEYS), figsize=(4.6 * len(KEYS) + 1.8, 3.8), squeeze=False, sharey=True)
    width = 0.8 / max(1, len(methods))
    for ax, k in zip(axes[0], KEYS, strict=True):
        for i, method in enumerate(methods):
            xs, vals = [], []
            for j, register in enumerate(registers):
                res = rows.get(f"{register}: {method}")
                if res is not None:
                    xs.append(j + (i - (len(methods) - 1) / 2) * width)
                    vals.append(float(res[direction].get(k, 0.0)))
            bars = ax.bar(xs, vals, width, color=cmap(i % 10), label=method)
            ax.bar_label(bars, fmt="%.0f", fontsize=6.5)
        ax.set_xticks(range(len(registers)), registers)
        ax.set_ylim(0, 105)
        ax.set_title(f"{direction.upper()} {k}")
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel("recall (%)")
    if title:
        fig.suptitle(title)
    return _legend_and_save(fig, {m: cmap(i % 10) for i, m in enumerate(methods)}, 1.8, out)
