"""Grounded concepts for grammar-constrained engines: a per-query GBNF grammar.

The ``Concepts:`` line may only quote the query (see :mod:`raqo_core.rewriter.grounding`, the
transformers logits processor). llama.cpp (in-process and its servers) and vLLM's structured
outputs take a grammar instead; :func:`answer_grammar` writes one for a query and a mode:

- ``recot``: `` None`` or ``span(;span)*``, a newline, then ``Rewrite: <one line>``;
- ``detect``: `` None`` or ``span(;span)*``;
- ``direct``: one line (nothing to ground).

A *span* is a run of the query's tokens (words and punctuation runs) with the query's own
spacing between them, each token as written, lower-cased or capitalised, so it starts and ends at
word boundaries — the spans :func:`~raqo_core.rewriter.grounding.concept_line_fits` accepts. The grammar has one
rule per query token (``s3 ::= w3 (" " s4)?``), so its size grows linearly with the query.
Unlike the logits processor (which only looks at the top-k tokens), a grammar cannot be left:
on a grammar engine no concept outside the query can be written at all.
"""

from __future__ import annotations

import re

from raqo_core.rewriter.prompt import CONCEPT_SEP, NONE_TOKEN, REWRITE_PREFIX, check_mode

_TOKEN = re.compile(r"\w+|[^\w\s]+")


def _literal(text: str) -> str:
    """A GBNF expression matching ``text`` as written, lower-cased or capitalised (how a model
    quotes a word), not every mix of cases."""
    forms = list(dict.fromkeys([text, text.lower(), text[:1].upper() + text[1:].lower()]))
    return forms[0] and (_quote(forms[0]) if len(forms) == 1 else "(" + " | ".join(_quote(f) for f in forms) + ")")


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def span_rules(query: str) -> list[str]:
    """The rules defining ``span`` for ``query`` (``span ::= s0 | s1 | …``)."""
    toks = [(m.group(0), m.start(), m.end()) for m in _TOKEN.finditer(query)]
    if not toks:
        return ["span ::= [^;\\n]+"]  # nothing to quote: leave the line to the validator
    rules = []
    for i, (tok, _, end) in enumerate(toks):
        body = _literal(tok)
        if i + 1 < len(toks):
            gap = query[end : toks[i + 1][1]]
            sep = '" " ' if gap else ""
            body = f"{body} ({sep}s{i + 1})?"
        rules.append(f"s{i} ::= {body}")
    rules.append("span ::= " + " | ".join(f"s{i}" for i in range(len(toks))))
    return rules


def concept_line_grammar(query: str) -> str:
    """Just the concept line (`` None`` or ``span(;span)*``) and its newline: the part that needs
    constraining. An engine can decode that line under this grammar and the rewrite after it free,
    which costs the grammar's per-token check only on the line's few tokens."""
    nl = '"\\n"'
    return "\n".join(
        [
            f'root ::= " "? (none | concepts) {nl}',
            f"none ::= {_literal(NONE_TOKEN)}",
            f'concepts ::= span (" "? {_quote(CONCEPT_SEP)} " "? span)*',
            *span_rules(query),
        ]
    )


def answer_grammar(query: str, mode: str = "recot") -> str:
    """The GBNF grammar for what follows the prefilled ``Concepts:`` (or ``Rewrite:``)."""
    check_mode(mode)
    nl = '"\\n"'
    line = "line ::= [^\\n]+"
    if mode == "direct":
        return "\n".join([f'root ::= " "? line {nl}?', line])
    after = f"{nl}?" if mode == "detect" else f'{nl} {_quote(REWRITE_PREFIX)} " "? line {nl}?'
    return "\n".join(
        [
            f'root ::= " "? (none {nl}? | concepts {after})',
            f"none ::= {_literal(NONE_TOKEN)}",
            f'concepts ::= span (" "? {_quote(CONCEPT_SEP)} " "? span)*',
            *span_rules(query),
            line,
        ]
    )
