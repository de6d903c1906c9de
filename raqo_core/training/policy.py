"""On-policy PRO candidates: the rewriter's own rewrites, scored by the retriever, join MPADE's lists.

MPADE's lists hold only *accepted* rewrites, so PRO learns "more edits rank higher" but never sees
the edits this model gets wrong (a colour it invents, an object it drops). Measured on the embedded
benchmark: PRO on MPADE's lists alone made the rewriter bolder and cost 1.6–4.2 val T2I R@1. Adding
the stage-start model's own rewrites (greedy and sampled), scored exactly like MPADE's candidates —
the retriever's cosine with the query's target image — lets the listwise loss push its own mistakes
below the mined rewrites (as RRHF and PRO do with policy samples).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from raqo_core.errors import RAQOError
from raqo_core.io import atomic_write_json
from raqo_core.mpade.records import Candidate, PRORecord, read_pro, write_records

log = logging.getLogger(__name__)


def target_images(manifest: Any, split: str, register: str) -> dict[str, Any]:
    """query text → its image record, for the texts of one split and register that name one image."""
    seen: dict[str, Any] = {}
    dup: set[str] = set()
    for r in manifest.split(split):
        for t in r.texts(register):
            if t in seen and seen[t] is not r:
                dup.add(t)
            seen[t] = r
    return {t: r for t, r in seen.items() if t not in dup}


def merge_candidates(candidates: list[Candidate], extra: list[tuple[str, float]]) -> list[Candidate]:
    """MPADE's candidates plus new (text, score) ones, deduplicated (MPADE's entry wins), best-first."""
    known = {c.text for c in candidates}
    out = list(candidates)
    for text, score in extra:
        if text and text not in known:
            known.add(text)
            out.append(Candidate(text, round(float(score), 6), "policy"))
    return sorted(out, key=lambda c: -c.score)


def _rewrite(completion: str) -> str:
    """The rewrite line, cleaned as the rewriter cleans it at inference ("" if there is none)."""
    from raqo_core.rewriter import prompt as P

    try:
        return P.parse_response(completion, "direct").rewrite or ""
    except P.ParseError:
        return ""


def add_policy_candidates(
    recs: list[PRORecord],
    out: Path,
    *,
    base: str,
    adapter: Path | None,
    retriever: Any,
    manifest: Any,
    split: str,
    register: str,
    mode: str = "recot",
    samples: int = 3,
    temperature: float = 0.8,
    batch_size: int = 16,
    score: str = "cosine",
    score_scale: float = 100.0,
    seed: int = 0,
    device: str | None = None,
) -> list[PRORecord]:
    """``recs`` (D_PRO lists) with ``samples`` rewrites of the stage-start model added to each list:
    one greedy, the rest sampled at ``temperature``. Written to ``out`` (atomic) and reused from
    there when the stage resumes, so a killed run does not regenerate; counts and seconds go to the
    ``.json`` beside it. ``device=None`` generates on the GPU when torch finds one."""
    if samples < 1:
        raise RAQOError(f"policy samples must be >= 1, got {samples}")
    stats_path = out.with_suffix(".json")
    if out.is_file() and stats_path.is_file():
        cached = read_pro(out, min_len=1)
        st = json.loads(stats_path.read_text())
        same_score = st.get("score", "cosine") == score
        if same_score and [r.query for r in cached] == [r.query for r in recs]:
            return cached
    import functools
    import time

    import numpy as np
    from tqdm.auto import tqdm

    from raqo_core.mpade.assessment import target_scores
    from raqo_core.rewriter.engines.hf import HFGenerator
    from raqo_core.rewriter.models import load_causal_lm
    from raqo_core.rewriter.prompt import is_complete
    from raqo_core.training.data import rewrite_context

    t0 = time.time()
    targets = target_images(manifest, split, register)
    todo = [i for i, r in enumerate(recs) if r.query in targets]
    if len(todo) < len(recs):
        log.warning(
            "%d of %d PRO lists have no single target image in %s/%s; they keep MPADE's candidates only",
            len(recs) - len(todo),
            len(recs),
            split,
            register,
        )
    if device is None:
        from raqo_core.training.stages.base import has_cuda

        device = "cuda" if has_cuda() else "cpu"
    lm = load_causal_lm(base, adapter=str(adapter) if adapter else None, device=device)
    backend = HFGenerator(lm.model, lm.tokenizer, device)
    texts: dict[int, list[str]] = {}
    for s in tqdm(range(0, len(todo), batch_size), desc="PRO policy rewrites", unit="batch"):
        idx = todo[s : s + batch_size]
        prompts = [rewrite_context(lm.tokenizer, recs[i].query, recs[i].concepts, mode) for i in idx]
        keep = [(i, p) for i, p in zip(idx, prompts, strict=True) if p is not None]
        if not keep:
            continue
        ps = [p for _, p in keep]
        done = functools.partial(is_complete, mode="direct")  # after "Rewrite:", one line is the answer
        greedy = backend.generate(ps, is_done=done).texts
        sampled = (
            backend.generate(ps, is_done=done, num_samples=samples - 1, temperature=temperature, seed=seed + s).texts
            if samples > 1
            else [[] for _ in ps]
        )
        for (i, _), g, sm in zip(keep, greedy, sampled, strict=True):
            texts[i] = [_rewrite(t) for t in g + sm]
    flat = [(i, t) for i, ts in texts.items() for t in ts if t]
    extra: dict[int, list[tuple[str, float]]] = {}
    if flat:
        # the gallery MPADE scored its candidates against: the split's images (contrastive scores need all of them)
        gallery = (
            manifest.split(split)
            if score == "contrastive"
            else list({targets[recs[i].query].image_id: targets[recs[i].query] for i in texts}.values())
        )
        img_index = {r.image_id: n for n, r in enumerate(gallery)}
        img_emb = retriever.encode_images([manifest.image_path(r) for r in gallery])
        emb = retriever.encode_texts([t for _, t in flat])
        tgt = np.asarray([img_index[targets[recs[i].query].image_id] for i, _ in flat])
        for (i, t), sc in zip(flat, target_scores(emb, img_emb, tgt, kind=score, scale=score_scale), strict=True):
            extra.setdefault(i, []).append((t, float(sc)))
    result = [PRORecord(r.query, r.concepts, merge_candidates(r.candidates, extra.get(i, []))) for i, r in enumerate(recs)]
    write_records(out, result)
    stats = {
        "lists": len(recs),
        "with_target": len(todo),
        "samples": samples,
        "temperature": temperature,
        "scored": sum(len(v) for v in extra.values()),
        "unique_added": sum(1 for r in result for c in r.candidates if c.source == "policy"),
        "score": score,
        "device": device,
        "seconds": round(time.time() - t0, 1),
    }
    atomic_write_json(stats_path, stats)
    return result
