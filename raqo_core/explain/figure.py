"""The explanation figure: for the query and its rewrite, the words the retriever weighs (bars; named concepts in
orange) beside the image with its patch heatmap, each titled with the similarity and the target's rank."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from raqo_core.io import atomic_open
from raqo_core.text import find_span

if TYPE_CHECKING:
    from raqo_core.explain.explainer import Explanation, TextSide

POS, NEG, CONCEPT = "#2b6cb0", "#c53030", "#dd6b20"


def _concept_words(side: TextSide) -> set[int]:
    """Positions of the words that belong to a named concept (every occurrence)."""
    words = side.tokens.words
    hit: set[int] = set()
    for c in side.concepts:
        parts, i = c.split(), 0
        while parts and (k := find_span(words[i:], parts)) is not None:
            hit.update(range(i + k, i + k + len(parts)))
            i += k + 1
    return hit


def _bars(ax: Any, side: TextSide, title: str, xmax: float) -> None:
    t = side.tokens
    n = len(t.words)
    concepts = _concept_words(side)
    y = np.arange(n)[::-1]
    ax.barh(y, t.scores, color=[POS if s >= 0 else NEG for s in t.scores], height=0.7)
    ax.set_yticks(y, t.words)
    for i, lab in enumerate(ax.get_yticklabels()):
        if i in concepts:
            lab.set_color(CONCEPT)
            lab.set_fontweight("bold")
    ax.axvline(0, color="#444", lw=0.8)
    ax.set_xlim(-xmax, xmax)
    ax.set_xlabel("attribution to the similarity (integrated gradients)", fontsize=8)
    ax.tick_params(labelsize=8)
    ax.set_title("\n".join(textwrap.wrap(title, 48)), fontsize=9, loc="left")


def _heat(ax: Any, side: TextSide, vmax: float) -> None:
    p = side.patches
    img = p.pixels
    ax.imshow(img, interpolation="nearest")
    h, w = img.shape[:2]
    import matplotlib

    level = np.clip(p.grid, 0, None) / vmax  # the patches that raise the similarity, 0..1 on the figure's scale
    rgba = matplotlib.colormaps["autumn_r"](level)
    rgba[..., 3] = 0.75 * level  # transparent where a patch adds nothing, so the image stays visible
    ax.imshow(rgba, extent=(0, w, h, 0), interpolation="bilinear")
    rank = "?" if side.rank is None else f"{side.rank + 1}"
    ax.set_title(f"similarity {p.similarity:.3f} · image rank {rank}", fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def draw(e: Explanation, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sides = [("query", e.query)] + ([("rewrite", e.rewrite)] if e.rewrite else [])
    xmax = max(max((abs(s) for s in side.tokens.scores), default=0.0) for _, side in sides) * 1.1 or 1.0
    vmax = max(float(np.clip(side.patches.grid, 0, None).max()) for _, side in sides) or 1.0
    rows = len(sides)
    fig, axes = plt.subplots(rows, 2, figsize=(9.5, 3.4 * rows), gridspec_kw={"width_ratios": [1.6, 1]}, squeeze=False)
    for r, (name, side) in enumerate(sides):
        label = f"{name}: “{side.tokens.text}”"
        if side.concepts:
            label += f"  [concepts: {', '.join(side.concepts)}]"
        _bars(axes[r][0], side, label, xmax)
        _heat(axes[r][1], side, vmax)
    if not e.rewrite and e.reason:
        fig.text(0.01, 0.01, f"not rewritten: {e.reason}", fontsize=8, color="#555")
    gallery = f" in {e.gallery}" if e.gallery else ""
    fig.suptitle(f"retriever {e.retriever} · image {e.image}{gallery}", fontsize=9, color="#333")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=110)
    plt.close(fig)
    return path
