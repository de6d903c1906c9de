"""Grounded concept decoding: the ``Concepts:`` line may only quote the query.

ReCoT's first step names the concepts *in the query* that the retriever misreads. A small model
left alone also names words that are not there (the shipped embedded adapter did so for 423 of
2,832 concepts over 2,500 val/test/transfer queries: "orbit" for "orb", "solid" for "filled"; with
this processor, 84; ``results/grounding/``), and its rewrite step
then reads a concept list that does not describe the query. :class:`GroundedConcepts` is a
``transformers`` logits processor that, while the concept line is being written, keeps only the
next tokens that extend it into ``None`` or a ``;``-separated list of spans of the query (case
insensitive, starting and ending at word boundaries). It checks the ``top_k`` best tokens and
masks the rest; if none of them fits, the step is left unconstrained rather than forced onto an
unlikely token. Once the line ends, generation is free again (the rewrite may use any words).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from raqo_core.rewriter.prompt import CONCEPT_SEP, NONE_TOKEN


def _is_span(piece: str, query: str, *, complete: bool) -> bool:
    """``piece`` is (a prefix of, unless ``complete``) a word-aligned span of ``query`` (both lower-case)."""
    if not piece:
        return not complete
    start = query.find(piece)
    while start >= 0:
        if start == 0 or not query[start - 1].isalnum():
            end = start + len(piece)
            if not complete or end == len(query) or not query[end].isalnum():
                return True
        start = query.find(piece, start + 1)
    return False


def concept_line_fits(text: str, query: str) -> bool:
    """Whether generated ``text`` (what follows ``Concepts:``) can still be, or already is, a
    grounded concept line for ``query``. Text after the line's newline is not checked."""
    q = query.lower()
    line, newline, _ = text.partition("\n")
    s = line.strip().lower() if newline else line.lstrip().lower()
    none = NONE_TOKEN.lower()
    if s == none or (not newline and none.startswith(s)):
        return True
    pieces = s.split(CONCEPT_SEP)
    *done, last = pieces
    if not all(_is_span(p.strip(), q, complete=True) for p in done):
        return False
    if newline:
        return _is_span(last.strip(), q, complete=True)
    return _is_span(last.lstrip(), q, complete=False)


class GroundedConcepts:
    """Logits processor (``model.generate(logits_processor=[...])``) that grounds the concept line.

    ``queries[i]`` is the query behind prompt ``i``; with ``num_return_sequences = k`` rows
    ``i*k … i*k+k-1`` share it. ``start`` is the prompt length (left-padded batch)."""

    def __init__(self, tokenizer: Any, queries: Sequence[str], start: int, *, rows_per_query: int = 1, top_k: int = 8) -> None:
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        self.tokenizer = tokenizer
        self.queries = list(queries)
        self.start = start
        self.rows_per_query = rows_per_query
        self.top_k = top_k
        self.constrained_steps = 0  # steps whose best token was masked (diagnostics)
        self._lines_done: set[int] = set()  # rows past their concept line: never constrained again

    def _piece(self, token_id: int) -> str:
        if token_id == self.tokenizer.eos_token_id:
            return "\n"  # ending the answer ends the line: it must be complete
        return str(self.tokenizer.decode([token_id], skip_special_tokens=False))

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        if len(self._lines_done) == scores.shape[0]:
            return scores  # every row is writing its rewrite: nothing to decode or check
        texts = self.tokenizer.batch_decode(input_ids[:, self.start :], skip_special_tokens=True)
        k = min(self.top_k, scores.shape[-1])
        top = torch.topk(scores, k, dim=-1).indices.tolist()
        for row, text in enumerate(texts):
            if row in self._lines_done or "\n" in text:
                self._lines_done.add(row)
                continue  # the concept line is finished
            query = self.queries[row // self.rows_per_query]
            ok = [t for t in top[row] if concept_line_fits(text + self._piece(t), query)]
            if not ok:
                continue  # nothing fits: leave the step alone rather than force an unlikely token
            if ok[0] != top[row][0]:
                self.constrained_steps += 1
            keep = scores[row, ok].clone()
            scores[row] = float("-inf")
            scores[row, ok] = keep
        return scores
