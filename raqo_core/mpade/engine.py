"""The MPADE run: assessment → ambiguous-query optimisation → unambiguous-query perturbation →
query-pair filtering → D_CCR / D_QRE / D_PRO, resumable and deterministic.

Resumability: queries are processed in fixed chunks; each finished chunk appends all its
records to ``records.jsonl`` in one write and is then marked in ``done.txt``. A run killed at any
point restarts at the first unfinished chunk (records of a half-written chunk are ignored), and
the final files are rebuilt from the records sorted by query index, so an interrupted run ends
with the same files as an uninterrupted one.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from raqo_core.data.manifest import Manifest, load_manifest
from raqo_core.errors import RAQOError
from raqo_core.io import atomic_write_json
from raqo_core.mpade.agents import Agent, AgentRequest
from raqo_core.mpade.assessment import (
    AMBIGUOUS,
    UNAMBIGUOUS,
    QueryItem,
    count_labels,
    ranks_against,
    target_scores,
    top_wrong,
)
from raqo_core.mpade.config import MPADEConfig
from raqo_core.mpade.outputs import build_outputs
from raqo_core.mpade.records import MINED_FILE
from raqo_core.text import STOPWORDS, caption_vocabulary, tokenize_words

logger = logging.getLogger(__name__)
RECORDS = MINED_FILE
DONE, MINED_WITH = "done.txt", "mined_with.json"
# The settings that decide what is mined. The others (concepts, filter_threshold, perturb_ratio, perturb_exclude,
# perturb_qre, none_ratio, max_concepts, max_concept_words) only shape the outputs, so finished records are
# relabelled with new values of those without mining again.
MINING_SETTINGS = (
    "split", "register", "limit", "queries_per_image", "unambiguous_k", "ambiguous_k", "rounds", "target_rewrites",
    "n_candidates", "perturb", "perturb_margin", "score", "score_scale", "chunk_size",
)  # fmt: skip
FAILED_CHUNKS_IN_A_ROW = 2  # the agent failed every request of this many chunks in a row: stop (a circuit breaker)


def mining_key(cfg: MPADEConfig, retriever: Any, agent: Any, texts: list[str], owners: list[int]) -> dict[str, Any]:
    """What a resumed run must share with the records on disk: the mining settings, the queries and the retriever."""
    import hashlib

    h = hashlib.sha256()
    for t, o in zip(texts, owners, strict=True):
        h.update(f"{o}\t{t}\n".encode())
    c = asdict(cfg)
    return {
        "settings": {k: c[k] for k in MINING_SETTINGS},
        "queries": {"n": len(texts), "sha256": h.hexdigest()[:16]},
        "retriever_fingerprint": retriever.fingerprint,
        "agent": getattr(agent, "name", type(agent).__name__),
    }


def check_resume_key(out: Path, key: dict[str, Any]) -> None:
    """Refuse to resume records mined with other settings, queries, retriever or agent; record the key otherwise."""
    path = out / MINED_WITH
    if path.is_file():
        have = json.loads(path.read_text())
        diff = [
            f"{k}={have.get('settings', {}).get(k)!r} (now {key['settings'][k]!r})"
            for k in key["settings"]
            if have.get("settings", {}).get(k) != key["settings"][k]
        ]
        for k in ("queries", "retriever_fingerprint", "agent"):
            if have.get(k) != key[k]:
                diff.append(f"{k}={have.get(k)!r} (now {key[k]!r})")
        if diff:
            raise RAQOError(
                f"{out} holds MPADE records mined with {'; '.join(diff)}; resume only with the same data and mining settings "
                "(use another --out, or delete the folder to mine again)"
            )
    elif (out / DONE).is_file():
        logger.warning("%s has mined records but no %s (an older run): resuming without checking its settings", out, MINED_WITH)
    atomic_write_json(path, key)


def _agent_outcome(records: list[dict[str, Any]]) -> str | None:
    """``None`` when the chunk asked the agent nothing; ``""`` when the agent answered; its last error when it failed
    every request of the chunk (nothing was learnt from it)."""
    amb = [r for r in records if r["kind"] == "ambiguous"]
    if not amb:
        return None
    if all(r["errors"] and not r["candidates"] and not any(r["accepted_per_round"]) for r in amb):
        return str(amb[-1]["errors"][-1])
    return ""


class _State:
    """Append-only records + a done-set of chunk ids."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.records_path = out / RECORDS
        self.done_path = out / DONE
        self.done: set[int] = set()
        if self.done_path.is_file():
            self.done = {int(x) for x in self.done_path.read_text().split() if x.strip().isdigit()}
        self.records: dict[int, dict[str, Any]] = {}
        if self.records_path.is_file():
            with self.records_path.open(encoding="utf-8") as fh:
                for line in fh:
                    try:
                        rec = json.loads(line)
                    except json.JSONDecodeError:
                        continue  # torn by a crash
                    if rec.get("chunk") in self.done:
                        self.records[int(rec["i"])] = rec

    def commit(self, chunk: int, records: list[dict[str, Any]]) -> None:
        with self.records_path.open("a", encoding="utf-8") as fh:
            fh.write("".join(json.dumps({**r, "chunk": chunk}, ensure_ascii=False) + "\n" for r in records))
            fh.flush()
        with self.done_path.open("a") as fh:
            fh.write(f"{chunk}\n")
            fh.flush()
        self.done.add(chunk)
        for r in records:
            self.records[int(r["i"])] = {**r, "chunk": chunk}


def collect_queries(manifest: Manifest, cfg: MPADEConfig) -> tuple[list, list[str], list[int]]:
    recs = manifest.split(cfg.split)
    if not recs:
        raise RAQOError(f"split {cfg.split!r} has no records in {manifest.root}")
    texts, owners = [], []
    for i, r in enumerate(recs):
        caps = r.texts(cfg.register)
        for t in caps[: cfg.queries_per_image] if cfg.queries_per_image else caps:
            texts.append(t)
            owners.append(i)
    if cfg.limit:
        texts, owners = texts[: cfg.limit], owners[: cfg.limit]
    return recs, texts, owners


def perturb_query(
    query: str,
    gt_emb: np.ndarray,
    retriever: Any,
    vocab: Any,
    margin: float,
    max_candidates: int = 24,
    exclude: frozenset[str] = frozenset(),
) -> tuple[str, list[str], float] | None:
    """Replace core visual words with WordNet synonyms the retriever rarely saw; keep the variant
    whose text–GT similarity drops most, if it drops by at least ``margin``. Synonyms in ``exclude``
    (lower-case) are never used."""
    from raqo_core import lexicon

    words = tokenize_words(query)
    cands: list[tuple[str, list[str]]] = []
    for i, w in enumerate(words):
        if w in STOPWORDS or len(w) < 3:
            continue
        try:
            syns = lexicon.synonyms(w, limit=12)
        except RAQOError:
            return None
        for s in syns:
            if " " in s or "-" in s or s in vocab or not s.isalpha() or s.lower() in exclude:
                continue
            cands.append((" ".join(words[:i] + [s] + words[i + 1 :]), [s]))
    if not cands:
        return None
    cands = cands[:max_candidates]
    emb = retriever.encode_texts([query] + [c for c, _ in cands], batch_size=256)
    base = float(emb[0] @ gt_emb)
    sims = emb[1:] @ gt_emb
    j = int(np.argmin(sims))
    drop = base - float(sims[j])
    if drop < margin:
        return None
    return cands[j][0], cands[j][1], drop


def run_mpade(
    data: str | Path | Manifest,
    retriever: Any,
    agent: Agent,
    out: str | Path,
    cfg: MPADEConfig | None = None,
    *,
    similarity: Any = None,
    progress: bool = True,
    vocabulary: Any = None,
    stop_after_chunks: int | None = None,
) -> dict[str, Any]:
    """Run MPADE; returns the statistics written to ``meta.json``.

    ``stop_after_chunks`` stops early (as a kill would) — used by the resume tests.
    """
    from tqdm.auto import tqdm

    cfg = cfg or MPADEConfig()
    cfg.validate()
    manifest = data if isinstance(data, Manifest) else load_manifest(data)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    t0 = time.time()
    recs, texts, owners = collect_queries(manifest, cfg)
    image_paths = [manifest.image_path(r) for r in recs]
    img_emb = retriever.encode_images(image_paths, progress=progress)
    q_emb = retriever.encode_texts(texts, batch_size=256, progress=progress)
    ranks = ranks_against(q_emb, img_emb, np.asarray(owners))
    items = [QueryItem(i, t, o, int(r)) for i, (t, o, r) in enumerate(zip(texts, owners, ranks, strict=True))]
    counts = count_labels(items, cfg.unambiguous_k, cfg.ambiguous_k)
    timings["assessment_s"] = round(time.time() - t0, 2)
    timings["assessment_queries_per_s"] = round(len(items) / max(timings["assessment_s"], 1e-6), 1)
    if vocabulary is None:
        vocabulary = caption_vocabulary([c for r in manifest.split("train") for c in r.captions])
    check_resume_key(out, mining_key(cfg, retriever, agent, texts, owners))
    state = _State(out)
    work = [it for it in items if it.label(cfg.unambiguous_k, cfg.ambiguous_k) in (AMBIGUOUS, UNAMBIGUOUS)]
    chunks = [work[a : a + cfg.chunk_size] for a in range(0, len(work), cfg.chunk_size)]
    t1 = time.time()
    done_now = failed_in_a_row = 0
    bar = tqdm(total=len(chunks), initial=len(state.done & set(range(len(chunks)))), desc="MPADE", unit="chunk", disable=not progress)
    for ci, chunk in enumerate(chunks):
        if ci in state.done:
            continue
        if stop_after_chunks is not None and done_now >= stop_after_chunks:
            break
        records = _process_chunk(chunk, cfg, retriever, agent, img_emb, q_emb, image_paths, vocabulary)
        error = _agent_outcome(records)
        if error:  # not marked done: a re-run against a fixed server mines it
            failed_in_a_row += 1
            logger.warning("MPADE chunk %d: the agent failed every request (%s); it stays to do", ci, error[:160])
            if failed_in_a_row >= FAILED_CHUNKS_IN_A_ROW:
                bar.close()
                raise RAQOError(
                    f"the agent failed every request of {failed_in_a_row} chunks in a row (last error: {error[:200]}); "
                    f"stopped. {len(state.done)} finished chunks are kept in {out}; fix the agent and re-run to resume"
                )
            continue
        if error is not None:  # the agent answered (chunks that ask it nothing leave the count alone)
            failed_in_a_row = 0
        state.commit(ci, records)
        done_now += 1
        bar.update(1)
    bar.close()
    timings["optimisation_s"] = round(time.time() - t1, 2)
    finished = len(state.done & set(range(len(chunks)))) == len(chunks)
    meta: dict[str, Any] = {
        "retriever": getattr(retriever, "spec", "?"),
        "retriever_fingerprint": retriever.fingerprint,
        "agent": agent.describe(),
        "config": asdict(cfg),
        "n_queries": len(items),
        "labels": counts,
        "chunks": {"total": len(chunks), "done": len(state.done & set(range(len(chunks))))},
        "finished": finished,
        "timings": timings,
    }
    if not finished:
        atomic_write_json(out / "meta.partial.json", meta)
        return meta
    t2 = time.time()
    stats = build_outputs(out, [state.records[i] for i in sorted(state.records)], items, cfg, similarity=similarity)
    timings["filter_and_write_s"] = round(time.time() - t2, 2)
    timings["total_s"] = round(time.time() - t0, 2)
    meta.update(stats)
    atomic_write_json(out / "meta.json", meta)
    (out / "meta.partial.json").unlink(missing_ok=True)
    from raqo_core.mpade.preferences import preference_lexicon
    from raqo_core.mpade.report import write_report

    lexicon = preference_lexicon(out, retriever=retriever, owners=owners, image_emb=img_emb)
    write_report(out, meta, lexicon["concepts"])
    return meta


def _process_chunk(
    chunk: list[QueryItem],
    cfg: MPADEConfig,
    retriever: Any,
    agent: Agent,
    img_emb: np.ndarray,
    q_emb: np.ndarray,
    image_paths: list[Path],
    vocabulary: Any,
) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    amb = [it for it in chunk if it.label(cfg.unambiguous_k, cfg.ambiguous_k) == AMBIGUOUS]
    unamb = [it for it in chunk if it.label(cfg.unambiguous_k, cfg.ambiguous_k) == UNAMBIGUOUS]
    # -- ambiguous-query optimisation: candidate recall → submit → review → feedback, R rounds
    state: dict[int, dict[str, Any]] = {
        it.index: {"best": it.query, "history": [], "accepted": {}, "concepts": [], "rounds": [], "errors": []} for it in amb
    }
    active = list(amb)
    for rnd in range(cfg.rounds):
        if not active:
            break
        reqs = []
        for it in active:
            s = state[it.index]
            best_emb = retriever.encode_texts([s["best"]])[0] if rnd else q_emb[it.index]
            wrong = top_wrong(best_emb, img_emb, it.image_index, cfg.n_candidates)
            reqs.append(
                AgentRequest(
                    it.query,
                    image_paths[it.image_index],
                    [image_paths[j] for j in wrong],
                    list(s["history"]),
                    rnd,
                    img_emb[it.image_index],
                    img_emb[wrong],
                )
            )
        proposals = agent.propose_batch(reqs)
        flat = [(it, p) for it, prop in zip(active, proposals, strict=True) for p in prop.rewrites]
        if flat:
            emb = retriever.encode_texts([p for _, p in flat], batch_size=256)
            tgt = np.asarray([it.image_index for it, _ in flat])
            rk = ranks_against(emb, img_emb, tgt)
            sc = target_scores(emb, img_emb, tgt, kind=cfg.score, scale=cfg.score_scale)
            for (it, p), r, score in zip(flat, rk, sc, strict=True):
                s = state[it.index]
                s["history"].append((p, int(r)))
                if r < cfg.unambiguous_k and p not in s["accepted"]:
                    s["accepted"][p] = float(score)
        nxt = []
        for it, prop in zip(active, proposals, strict=True):
            s = state[it.index]
            if prop.error:
                s["errors"].append(prop.error)
            if prop.concepts and not s["concepts"]:
                s["concepts"] = prop.concepts
            s["rounds"].append(len(s["accepted"]))
            if s["history"]:
                s["best"] = min(s["history"], key=lambda h: h[1])[0]
            if len(s["accepted"]) < cfg.target_rewrites and not (prop.error and not prop.rewrites):
                nxt.append(it)
        active = nxt
    for it in amb:
        s = state[it.index]
        cands = sorted(s["accepted"].items(), key=lambda kv: (-kv[1], kv[0]))
        records.append(
            {
                "i": it.index,
                "kind": "ambiguous",
                "query": it.query,
                "rank": it.rank,
                "concepts": s["concepts"],
                "candidates": [{"text": t, "score": round(sc, 6)} for t, sc in cands],
                "accepted_per_round": s["rounds"],
                "errors": s["errors"][:3],
            }
        )
    # -- unambiguous queries: None examples, and perturbations into ambiguous variants
    unamb_scores: np.ndarray | list[float] = (
        target_scores(
            q_emb[[it.index for it in unamb]], img_emb, np.asarray([it.image_index for it in unamb]), kind=cfg.score, scale=cfg.score_scale
        )
        if unamb
        else []
    )
    excluded = cfg.excluded_words()
    for it, score in zip(unamb, unamb_scores, strict=True):
        rec: dict[str, Any] = {
            "i": it.index,
            "kind": "unambiguous",
            "query": it.query,
            "rank": it.rank,
            "score": round(float(score), 6),
        }
        if cfg.perturb:
            pert = perturb_query(it.query, img_emb[it.image_index], retriever, vocabulary, cfg.perturb_margin, exclude=excluded)
            if pert is not None:
                rec["perturbation"] = {"query": pert[0], "concepts": pert[1], "drop": round(pert[2], 6)}
        records.append(rec)
    return records
