"""The retriever preference lexicon: what this retriever misreads, read off MPADE's outputs.

For every ambiguous query with named concepts and an accepted rewrite: each concept (a word or span the agent
named as challenging), what the best accepted rewrite put in its place (a word-level alignment of query and
rewrite: a replacement, a deletion, or kept), and how far the rewrite moved the target image up the ranking
(the retriever's own rank of the target for the query minus for the rewrite). Written by ``raqo mpade`` into its
report (``preferences.md``/``.json``/``.png``) and by ``raqo preferences`` on existing outputs.
"""

from __future__ import annotations

import difflib
import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from raqo_core.io import atomic_open, atomic_write_json, atomic_write_text
from raqo_core.text import find_span, tokenize_words

DELETED, KEPT = "(deleted)", "(kept)"


def replacements(query: str, rewrite: str, concept: str) -> str | None:
    """What ``rewrite`` puts where ``concept`` stood in ``query`` (``(deleted)``, ``(kept)``), or None when the
    concept is not a span of the query."""
    q, w, c = tokenize_words(query), tokenize_words(rewrite), tokenize_words(concept)
    start = find_span(q, c)
    if start is None:
        return None
    span = set(range(start, start + len(c)))
    out: list[str] = []
    kept = deleted = False
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=q, b=w, autojunk=False).get_opcodes():
        if not span & set(range(i1, i2)):
            continue
        if tag == "replace" and i2 - i1 == j2 - j1:  # word for word: the concept's own words' counterparts
            out.extend(w[j1 + k - i1] for k in sorted(span & set(range(i1, i2))))
        elif tag == "replace":
            out.extend(w[j1:j2])
        elif tag == "delete":
            deleted = True
        elif tag == "equal":
            kept = True
    if out:
        return " ".join(out)
    return DELETED if deleted else KEPT if kept else None


def lexicon_rows(records: list[dict[str, Any]], rank_after: dict[int, int] | None = None, *, top: int = 25) -> list[dict[str, Any]]:
    """One row per concept, most often named first: how often it was named, in how many queries with an accepted
    rewrite, its top replacements, and the mean rank gain of those rewrites (with ``rank_after``: record ``i`` →
    the target's rank for its best rewrite)."""
    named: Counter[str] = Counter()
    with_rewrite: Counter[str] = Counter()
    repl: dict[str, Counter[str]] = defaultdict(Counter)
    gains: dict[str, list[int]] = defaultdict(list)
    for r in records:
        if r.get("kind") != "ambiguous":
            continue
        for c in {x.lower() for x in r.get("concepts") or []}:
            named[c] += 1
            if not r.get("candidates"):
                continue
            best = r["candidates"][0]["text"]
            got = replacements(r["query"], best, c)
            if got is None:
                continue
            with_rewrite[c] += 1
            repl[c][got] += 1
            if rank_after is not None and int(r["i"]) in rank_after:
                gains[c].append(int(r["rank"]) - rank_after[int(r["i"])])
    rows = []
    for c, n in named.most_common(top):
        g = gains.get(c)
        rows.append(
            {
                "concept": c,
                "named": n,
                "with_accepted_rewrite": with_rewrite[c],
                "replacements": repl[c].most_common(4),
                "mean_rank_gain": round(float(np.mean(g)), 2) if g else None,
            }
        )
    return rows


def ranks_after(records: list[dict[str, Any]], owners: list[int], image_emb: np.ndarray, retriever: Any) -> dict[int, int]:
    """The target's rank for each record's best accepted rewrite against the mined split's images (``image_emb``;
    ``owners``: query index → image index, as MPADE collected them)."""
    from raqo_core.mpade.assessment import ranks_against

    todo = [r for r in records if r.get("kind") == "ambiguous" and r.get("candidates") and int(r["i"]) < len(owners)]
    if not todo:
        return {}
    emb = retriever.encode_texts([r["candidates"][0]["text"] for r in todo], batch_size=256)
    rk = ranks_against(emb, image_emb, np.asarray([owners[int(r["i"])] for r in todo]))
    return {int(r["i"]): int(k) for r, k in zip(todo, rk, strict=True)}


def read_records(out: Path) -> list[dict[str, Any]]:
    from raqo_core.mpade.records import MINED_FILE

    rows = []
    with (out / MINED_FILE).open(encoding="utf-8") as fh:
        for line in fh:
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a torn last line of a killed run
    return rows


def table_lines(rows: list[dict[str, Any]]) -> list[str]:
    """The lexicon as a markdown table (``preferences.md`` and MPADE's ``report.md``)."""
    return [
        "| concept | named | with an accepted rewrite | replaced by | mean rank gain |",
        "|---|---|---|---|---|",
        *[
            f"| {r['concept']} | {r['named']} | {r['with_accepted_rewrite']} | "
            f"{', '.join(f'{t} ×{n}' for t, n in r['replacements']) or '—'} | "
            f"{'—' if r['mean_rank_gain'] is None else r['mean_rank_gain']} |"
            for r in rows
        ],
    ]


def write_lexicon(out: Path, rows: list[dict[str, Any]], retriever: str) -> dict[str, Path]:
    """``preferences.md`` (a table), ``preferences.json`` and ``preferences.png`` (a chart) in ``out``."""

    lines = [
        f"# What retriever `{retriever}` misreads (MPADE preference lexicon)",
        "",
        "Concepts the agent named as challenging, most often first; what the best accepted rewrite put in their place;"
        " and how many places the rewrite moved the target image up (the retriever's rank for the query minus for the rewrite).",
        "",
        *table_lines(rows),
        "",
    ]
    paths = {"md": atomic_write_text(out / "preferences.md", "\n".join(lines)), "json": out / "preferences.json"}
    atomic_write_json(paths["json"], {"retriever": retriever, "concepts": rows})
    shown = rows[:15]
    if shown:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(8, 0.38 * len(shown) + 1.2))
        y = np.arange(len(shown))[::-1]
        ax.barh(y, [r["named"] for r in shown], color="#cbd5e0", label="named as challenging")
        ax.barh(y, [r["with_accepted_rewrite"] for r in shown], color="#2b6cb0", label="with an accepted rewrite")
        labels = []
        for r in shown:
            changed = [t for t, _ in r["replacements"] if t != KEPT]
            labels.append(f"{r['concept']} → {changed[0] if changed else KEPT if r['replacements'] else '—'}")
        ax.set_yticks(y, labels, fontsize=8)
        for yy, r in zip(y, shown, strict=True):
            if r["mean_rank_gain"] is not None:
                ax.text(r["named"], yy, f"  {r['mean_rank_gain']:+.1f} ranks", va="center", fontsize=7, color="#333")
        ax.set_xlabel("queries")
        ax.set_xlim(0, max(r["named"] for r in shown) * 1.3)
        ax.legend(fontsize=8, loc="lower right")
        ax.set_title(f"What {retriever} misreads, and the replacement its recall rewards", fontsize=9)
        fig.tight_layout()
        paths["png"] = out / "preferences.png"
        with atomic_open(paths["png"], "wb") as fh:
            fig.savefig(fh, format="png", dpi=110)
        plt.close(fig)
    return paths


def preference_lexicon(
    out: str | Path,
    retriever: Any = None,
    *,
    top: int = 25,
    owners: list[int] | None = None,
    image_emb: np.ndarray | None = None,
) -> dict[str, Any]:
    """Build and write the lexicon of the MPADE outputs in ``out``. Rank gains need the ``retriever`` and MPADE's
    ``owners`` (query index → image index) and ``image_emb`` (the mined split's images; ``raqo preferences``
    encodes them again)."""
    out = Path(out)
    records = read_records(out)
    after = None
    if retriever is not None and image_emb is not None and owners is not None:
        after = ranks_after(records, owners, image_emb, retriever)
    rows = lexicon_rows(records, after, top=top)
    meta = json.loads((out / "meta.json").read_text()) if (out / "meta.json").is_file() else {}
    paths = write_lexicon(out, rows, str(getattr(retriever, "spec", None) or meta.get("retriever", "?")))
    return {"concepts": rows, "files": {k: str(v) for k, v in paths.items()}}
