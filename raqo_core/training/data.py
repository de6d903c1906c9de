"""Training examples for the three stages, built from MPADE's records (:mod:`raqo_core.mpade.records`).

Targets follow the ReCoT answer format of :mod:`raqo_core.rewriter.prompt`, with the assistant
turn prefilled by ``Concepts:`` exactly as at inference:

- CCD-SFT (D_CCR): loss on the concept line — `` crimson; orb\\nRewrite:`` (the rewrite marker is
  part of what detection must emit), or `` None<eos>`` for unambiguous queries.
- QRE-SFT (D_QRE): the concepts and ``Rewrite:`` are context; loss on `` <rewrite><eos>`` only.
- PRO (D_PRO): the same context, one response per ranked candidate.
- Without ReCoT (``mode="direct"``, Table 4's ablation): the prompt is prefilled with ``Rewrite:``.

Prompt and completion are tokenized separately — the prompt exactly as the rewriter tokenizes it
at inference — so no token merges across the boundary.
"""

from __future__ import annotations

from typing import Any

from raqo_core.mpade.records import CCRRecord, PRORecord, QRERecord
from raqo_core.rewriter import prompt as P
from raqo_core.rewriter.engines.template import render_chat


def prompt_for(tokenizer: Any, query: str, mode: str = "recot") -> str:
    """The inference prompt (chat template + prefilled response prefix)."""
    return render_chat(tokenizer, P.messages(P.sanitize_query(query), mode), P.response_prefix(mode))


def _encode(tokenizer: Any, prompt: str, completion: str, eos: bool, max_length: int) -> dict[str, list[int]]:
    p = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    c = tokenizer(completion, add_special_tokens=False)["input_ids"] + ([tokenizer.eos_token_id] if eos else [])
    ids = (p + c)[:max_length]
    mask = ([0] * len(p) + [1] * len(c))[:max_length]
    return {"input_ids": ids, "completion_mask": mask}


def ccd_examples(tokenizer: Any, recs: list[CCRRecord], max_length: int = 256) -> list[dict[str, list[int]]]:
    """The concept line, then the rewrite marker (named concepts) or the end of the answer (None)."""
    out = []
    for r in recs:
        line = P.format_response("detect", r.concepts, None)
        completion = line + P.REWRITE_MARKER if r.concepts else line
        out.append(_encode(tokenizer, prompt_for(tokenizer, r.query, "recot"), completion, not r.concepts, max_length))
    return out


def rewrite_context(tokenizer: Any, query: str, concepts: list[str], mode: str) -> str | None:
    """Everything before the rewrite: None when a recot example has no concepts (skipped)."""
    if mode == "direct":
        return prompt_for(tokenizer, query, "direct")
    if not concepts:
        return None
    return prompt_for(tokenizer, query, "recot") + P.format_concepts(concepts) + P.REWRITE_MARKER


def qre_examples(tokenizer: Any, recs: list[QRERecord], mode: str = "recot", max_length: int = 256) -> list[dict[str, list[int]]]:
    out = []
    for r in recs:
        ctx = rewrite_context(tokenizer, r.query, r.concepts, mode)
        if ctx is not None:
            out.append(_encode(tokenizer, ctx, P.format_rewrite(r.rewrite), True, max_length))
    return out


def spread(items: list[Any], n: int) -> list[Any]:
    """``n`` items of a best-first list: the first, the last and evenly spaced ones between, in order."""
    if n < 2:
        raise ValueError(f"spread needs n >= 2, got {n}")
    if len(items) <= n:
        return list(items)
    last = len(items) - 1
    return [items[int(i * last / (n - 1) + 0.5)] for i in range(n)]  # half up, not to even


def pro_examples(
    tokenizer: Any, recs: list[PRORecord], mode: str = "recot", max_candidates: int = 5, max_length: int = 256
) -> list[dict[str, Any]]:
    """One example per list: tokenized candidates (best-first) and their rewards.

    A list longer than ``max_candidates`` keeps its best and its worst candidate and evenly spaced
    ones between (:func:`spread`): the top few of a long list are near-ties whose reward gaps carry
    little gradient, while the bottom holds the partial rewrites the model should learn to avoid."""
    out = []
    for r in recs:
        ctx = rewrite_context(tokenizer, r.query, r.concepts, mode)
        if ctx is None:
            continue
        cands = spread(r.candidates, max_candidates)
        enc = [_encode(tokenizer, ctx, P.format_rewrite(c.text), True, max_length) for c in cands]
        out.append({"candidates": enc, "rewards": [float(c.score) for c in cands]})
    return out
