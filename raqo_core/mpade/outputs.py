"""Query-pair filtering and the three datasets D_CCR, D_QRE and D_PRO (their records: :mod:`raqo_core.mpade.records`)."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Any

from raqo_core.errors import RAQOError
from raqo_core.mpade.config import MPADEConfig
from raqo_core.mpade.records import CCR_FILE, PRO_FILE, QRE_FILE, Candidate, CCRRecord, PRORecord, QRERecord, write_records
from raqo_core.text import STOPWORDS, WORD, tokenize_words


def clean_concepts(concepts: list[str], max_concepts: int = 3, max_words: int = 6, query: str | None = None) -> list[str]:
    """Short concept lists make a learnable detection target: drop stopword-only and over-long spans
    (a deleted half-query is an edit, not a concept), de-duplicate, keep the first ``max_concepts``
    (the agent lists them in the order its edits helped most) and, given the ``query``, list those
    in reading order — a left-to-right scan is what a small model learns."""
    out: list[str] = []
    for c in concepts:
        words = c.split()
        if not words or len(words) > max_words or all(w in STOPWORDS for w in words) or c in out:
            continue
        out.append(c)
    out = out[:max_concepts]
    if query is not None:
        low = query.lower()
        out.sort(key=lambda c: low.find(c) if c in low else len(low))
    return out


_ARTICLES = frozenset(["a", "an", "the"])
_SUB, _OPEN, _EXTEND = 1.0, 0.5, 0.5  # affine gaps: one long deletion costs less than two short ones


def align_words(a: list[str], b: list[str]) -> list[tuple[str, int, int]]:
    """Word alignment of ``a`` to ``b`` with affine gap costs (Gotoh): columns ``("M"|"S", i, j)``
    for kept/substituted words, ``("D", i, -1)`` for deleted ones and ``("I", -1, j)`` for inserted.

    Affine gaps keep a deleted phrase in one piece ("i'm looking for a picture showing a huge" →
    "a large" deletes six words and substitutes one, rather than keeping the first "a"), and a
    deletion at either end of ``a`` opens for free: that is where framing ("show me", ", i think")
    sits, so "orb, i think" → "circle" substitutes "orb" and deletes "i think"."""
    inf = float("inf")
    n, m = len(a), len(b)
    # best cost of a[:i] vs b[:j] ending in a match/substitution (0), deletion (1), insertion (2),
    # or deletion after all of b (3: the trailing gap)
    cost = [[[inf] * 4 for _ in range(m + 1)] for _ in range(n + 1)]
    back = [[[-1] * 4 for _ in range(m + 1)] for _ in range(n + 1)]
    cost[0][0][0] = 0.0

    def best(options: list[float]) -> tuple[float, int]:
        k = min(range(len(options)), key=lambda s: options[s])
        return options[k], k

    for i in range(n + 1):
        for j in range(m + 1):
            if i and j:
                step = 0.0 if a[i - 1] == b[j - 1] else _SUB
                c, k = best([cost[i - 1][j - 1][s] for s in range(3)])
                cost[i][j][0], back[i][j][0] = c + step, k
            if i:
                free = j == 0  # a leading gap
                c, k = best([cost[i - 1][j][s] + _EXTEND + (0.0 if s == 1 or free else _OPEN) for s in range(3)])
                cost[i][j][1], back[i][j][1] = c, k
                if j == m:
                    c, k = best([cost[i - 1][j][s] + _EXTEND for s in range(4)])
                    cost[i][j][3], back[i][j][3] = c, k
            if j:
                c, k = best([cost[i][j - 1][s] + _EXTEND + (0.0 if s == 2 else _OPEN) for s in range(3)])
                cost[i][j][2], back[i][j][2] = c, k
    cols: list[tuple[str, int, int]] = []
    i, j = n, m
    state = best(cost[n][m])[1]
    while i or j:
        prev = back[i][j][state]
        if state == 0:
            cols.append(("M" if a[i - 1] == b[j - 1] else "S", i - 1, j - 1))
            i, j = i - 1, j - 1
        elif state in (1, 3):
            cols.append(("D", i - 1, -1))
            i -= 1
        else:
            cols.append(("I", -1, j - 1))
            j -= 1
        state = prev
    return cols[::-1]


def _aligned(query: str, rewrite: str) -> tuple[list[tuple[str, int, int]], list[tuple[str, int, int]]]:
    """The query's words with their offsets, and their alignment with the rewrite's words."""
    qt = [(m.group(), m.start(), m.end()) for m in WORD.finditer(query.lower())]
    return qt, align_words([t for t, _, _ in qt], tokenize_words(rewrite))


def changed_concepts(query: str, rewrite: str, concepts: list[str]) -> list[str]:
    """The ``concepts`` with at least one word that ``rewrite`` substitutes or deletes: a concept
    line that never names a word the rewrite keeps."""
    qt, cols = _aligned(query, rewrite)
    edited = {qt[i][0] for op, i, _ in cols if op in ("S", "D")}
    return [c for c in concepts if any(m.group() in edited for m in WORD.finditer(c.lower()))]


def edited_spans(query: str, rewrite: str, max_words: int = 8) -> list[str]:
    """The spans of ``query`` that ``rewrite`` changes or deletes, in reading order, as they are
    written in the query (so a grounded concept line can quote them).

    Words are aligned with :func:`align_words`. Each substituted word is a concept, and so is each
    run of deleted words (a framing phrase, an unknown word) — the edits MPADE's agent makes.
    Articles at a span's ends are trimmed; words the rewrite only inserts name nothing; spans over
    ``max_words`` words are left out (a deleted half-query is an edit, not a concept)."""
    qt, cols = _aligned(query, rewrite)
    groups: list[list[int]] = []
    last = ""
    for op, i, _ in cols:
        if op == "S" or (op == "D" and last != "D"):
            groups.append([i])
        elif op == "D":
            groups[-1].append(i)
        if op != "I":
            last = op
    out: list[str] = []
    for g in groups:
        while g and qt[g[0]][0] in _ARTICLES:
            g = g[1:]
        while g and qt[g[-1]][0] in _ARTICLES:
            g = g[:-1]
        if not g or len(g) > max_words:
            continue
        span = query[qt[g[0]][1] : qt[g[-1]][2]]
        if span.lower() not in (c.lower() for c in out):
            out.append(span)
    return out


def select_perturbations(amb: list[dict[str, Any]], unamb: list[dict[str, Any]], cfg: MPADEConfig) -> list[dict[str, Any]]:
    """The unambiguous records whose perturbation is used: none when ``perturb`` is off (records mined
    with it on are being relabelled), none that introduces an excluded word, and at most
    ``perturb_ratio`` per mined ambiguous query (a seeded sample, in record order)."""
    if not cfg.perturb:
        return []
    banned = cfg.excluded_words()
    pert = [r for r in unamb if "perturbation" in r and not banned & {c.lower() for c in r["perturbation"]["concepts"]}]
    if cfg.perturb_ratio is None:
        return pert
    n = round(cfg.perturb_ratio * len(amb))
    if n >= len(pert):
        return pert
    keep = set(random.Random(cfg.seed).sample(range(len(pert)), n))
    return [r for i, r in enumerate(pert) if i in keep]


def build_outputs(
    out: Path, records: list[dict[str, Any]], items: list[Any], cfg: MPADEConfig, *, similarity: Any = None
) -> dict[str, Any]:
    if similarity is None:
        from raqo_core.rewriter.guard import TextSimilarity

        similarity = TextSimilarity()
    amb = [r for r in records if r["kind"] == "ambiguous"]
    unamb = [r for r in records if r["kind"] == "unambiguous"]
    pert = select_perturbations(amb, unamb, cfg)
    # -- filtering: generated query vs its original, text similarity ≥ threshold
    pairs = [(r["query"], c["text"]) for r in amb for c in r["candidates"]] + [(r["query"], r["perturbation"]["query"]) for r in pert]
    sims = similarity.pairwise([a for a, _ in pairs], [b for _, b in pairs]) if pairs else []
    keep = {p: float(s) >= cfg.filter_threshold for p, s in zip(pairs, sims, strict=True)}
    dropped = {
        "rewrites": sum(not keep[(r["query"], c["text"])] for r in amb for c in r["candidates"]),
        "perturbations": sum(not keep[(r["query"], r["perturbation"]["query"])] for r in pert),
    }
    d_ccr: list[CCRRecord] = []
    d_qre: list[QRERecord] = []
    d_pro: list[PRORecord] = []
    accepted_lengths = []
    concept_counts: Counter[str] = Counter()
    for r in amb:
        kept = [c for c in r["candidates"] if keep[(r["query"], c["text"])]]
        accepted_lengths.append(len(kept))
        if not kept:
            continue
        if cfg.concepts == "edits":
            concepts = edited_spans(r["query"], kept[0]["text"], cfg.max_concept_words)[: cfg.max_concepts]
        else:
            concepts = clean_concepts(list(r["concepts"]), cfg.max_concepts, cfg.max_concept_words, query=r["query"])
            if cfg.concepts == "changed":
                concepts = changed_concepts(r["query"], kept[0]["text"], concepts)
        concept_counts.update(concepts)
        if concepts:
            d_ccr.append(CCRRecord(r["query"], concepts, "ambiguous"))
        d_qre.append(QRERecord(r["query"], concepts, kept[0]["text"], kept[0]["score"]))
        if len(kept) >= 2:
            d_pro.append(PRORecord(r["query"], concepts, [Candidate(c["text"], c["score"], c.get("source")) for c in kept]))
    for r in pert:
        p = r["perturbation"]
        if not keep[(r["query"], p["query"])]:
            continue
        concept_counts.update(p["concepts"])
        d_ccr.append(CCRRecord(p["query"], p["concepts"], "perturbation"))
        if cfg.perturb_qre:
            d_qre.append(QRERecord(p["query"], p["concepts"], r["query"], r["score"]))
    n_none = round(cfg.none_ratio * len(d_ccr))
    for r in sample_none(unamb, n_none, cfg.seed):
        d_ccr.append(CCRRecord(r["query"], [], "unambiguous"))
    if not d_qre:
        raise RAQOError(
            f"MPADE produced no training pairs: {len(amb)} ambiguous queries yielded no accepted rewrite that passed "
            f"filtering (dropped {dropped['rewrites']} rewrites, {dropped['perturbations']} perturbations) and "
            f"{len(pert)} perturbations; try more rounds, a lower filter_threshold, or another agent. No D_CCR, D_QRE or D_PRO "
            f"was written; the mined records in {out} are kept (a re-run with other output settings relabels them)."
        )
    write_records(out / CCR_FILE, d_ccr)
    write_records(out / QRE_FILE, d_qre)
    write_records(out / PRO_FILE, d_pro)
    rounds = max((len(r["accepted_per_round"]) for r in amb), default=0)
    per_round = []
    for k in range(rounds):
        got = sum(1 for r in amb if (r["accepted_per_round"][k] if k < len(r["accepted_per_round"]) else r["accepted_per_round"][-1]) > 0)
        per_round.append(round(got / max(1, len(amb)), 4))
    lengths = Counter(len(x.candidates) for x in d_pro)
    return {
        "counts": {
            "ambiguous": len(amb),
            "unambiguous": len(unamb),
            "ambiguous_with_rewrite": sum(1 for n in accepted_lengths if n),
            "perturbations": len(pert),
            "perturbations_mined": sum(1 for r in unamb if "perturbation" in r),
            "D_CCR": len(d_ccr),
            "D_CCR_none": n_none if d_ccr else 0,
            "D_QRE": len(d_qre),
            "D_PRO": len(d_pro),
        },
        "filtering": {"threshold": cfg.filter_threshold, "dropped": dropped},
        "accepted_rewrites_per_ambiguous_query": round(sum(accepted_lengths) / max(1, len(accepted_lengths)), 3),
        "acceptance_by_round": per_round,
        "pro_list_lengths": {str(k): v for k, v in sorted(lengths.items())},
        "top_concepts": concept_counts.most_common(25),
        "examples": [{"query": x.query, "concepts": x.concepts, "rewrite": x.rewrite} for x in d_qre[:8]],
    }


def sample_none(unambiguous: list[dict[str, Any]], n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` unambiguous queries for D_CCR's None examples, the retriever's rank-1 hits first:
    those are the queries it certainly needs no help with."""
    rng = random.Random(seed)
    pool = sorted(unambiguous, key=lambda r: r["i"])
    top = [r for r in pool if r.get("rank", 0) == 0]
    rest = [r for r in pool if r.get("rank", 0) != 0]
    picked = rng.sample(top, min(n, len(top)))
    picked += rng.sample(rest, min(n - len(picked), len(rest)))
    return sorted(picked, key=lambda r: r["i"])
