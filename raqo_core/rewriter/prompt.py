"""ReCoT prompt template and strict output parser.

The rewriter's answer is terse by design (every token costs latency on a CPU)::

    Concepts: crimson; orb            <- step 1: challenging concepts, or "None"
    Rewrite: a red circle ...         <- step 2: the query with just those concepts rewritten

The assistant turn is *prefilled* with ``Concepts:`` so that when detection says None the
model emits two or three tokens and stops: no rewrite is generated for such queries.
Modes: ``recot`` (both steps, default), ``direct`` (rewrite only, the ablation), ``detect``
(concepts only). The user's query is data: control characters are stripped, its length is
capped and it sits between delimiters that cannot occur inside it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from raqo_core.errors import RAQOError

MODES = ("recot", "direct", "detect")
CONCEPTS_PREFIX = "Concepts:"
REWRITE_PREFIX = "Rewrite:"
NONE_TOKEN = "None"
CONCEPT_SEP = ";"
OPEN, CLOSE = "<query>", "</query>"
MAX_CONCEPTS = 8
MAX_CONCEPT_CHARS = 64

# Terse on purpose: every prompt token is prefilled on each query (CPU latency).
SYSTEM_PROMPT = "Name the concepts in the query an image retriever misreads (or None), then rewrite only those."
DIRECT_SYSTEM_PROMPT = "Rewrite the query so an image retriever understands it."


# Chat-template control tokens a query could smuggle in (ChatML / Llama 3 ``<|…|>``, Llama 2 ``<s>`` and
# ``[INST]``, Gemma ``<start_of_turn>``): tokenizers and llama.cpp parse them as real special tokens.
# The answer format's own markers: a query must not be able to write "Concepts: …" / "Rewrite: …" lines of its own.
_MARKERS = re.compile(r"\b(concepts|rewrite)\s*:", re.IGNORECASE)
_SPECIAL = re.compile(r"<\|[^<>|\s]{1,40}\|>|</?s>|\[/?INST\]|<(?:start|end)_of_turn>", re.IGNORECASE)


class ParseError(RAQOError):
    """The model's answer does not follow the ReCoT format."""


@dataclass(frozen=True)
class Parsed:
    concepts: list[str] | None  # [] = None detected; None = not asked (direct mode)
    rewrite: str | None


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise RAQOError(f"unknown rewrite mode {mode!r}; expected one of {MODES}")
    return mode


def sanitize_query(query: str, max_chars: int = 512) -> str:
    """Strip control/format characters, chat-template control tokens, the query delimiters and the colon of the
    answer's ``Concepts:``/``Rewrite:`` markers; collapse whitespace; cap the length."""
    if not isinstance(query, str):
        raise RAQOError(f"query must be a string, got {type(query).__name__}")
    cleaned = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in query)
    cleaned = _SPECIAL.sub(" ", cleaned.replace(OPEN, " ").replace(CLOSE, " "))
    cleaned = _MARKERS.sub(lambda m: m.group(1), cleaned)
    cleaned = re.sub(r"\s+", " ", cleaned).strip()
    return cleaned[:max_chars].rstrip()


def user_message(query: str) -> str:
    return f"{OPEN}{query}{CLOSE}"


def default_system_prompt(mode: str) -> str:
    return DIRECT_SYSTEM_PROMPT if mode == "direct" else SYSTEM_PROMPT


def messages(query: str, mode: str = "recot", system: str | None = None) -> list[dict[str, str]]:
    system = system or default_system_prompt(mode)
    return [{"role": "system", "content": system}, {"role": "user", "content": user_message(query)}]


def response_prefix(mode: str) -> str:
    """What the assistant turn is prefilled with."""
    return REWRITE_PREFIX if check_mode(mode) == "direct" else CONCEPTS_PREFIX


def format_concepts(concepts: list[str] | None) -> str:
    """The concept line's body, after ``Concepts:`` (`` crimson; orb``, or `` None``)."""
    return f" {CONCEPT_SEP.join(c.strip() for c in concepts) if concepts else NONE_TOKEN}"


REWRITE_MARKER = f"\n{REWRITE_PREFIX}"  # what follows a named concept line: the rewrite step's prefix


def format_rewrite(rewrite: str) -> str:
    """The rewrite line's body, after ``Rewrite:``."""
    return f" {rewrite}"


def format_response(mode: str, concepts: list[str] | None, rewrite: str | None) -> str:
    """The training target *after* :func:`response_prefix` (inverse of :func:`parse_response`)."""
    check_mode(mode)
    if mode == "direct":
        if not rewrite:
            raise RAQOError("direct mode needs a rewrite")
        return format_rewrite(rewrite)
    body = format_concepts(concepts)
    if mode == "detect" or not concepts:
        return body
    if not rewrite:
        raise RAQOError("recot mode with concepts needs a rewrite")
    return body + REWRITE_MARKER + format_rewrite(rewrite)


def _single_line(text: str, max_chars: int) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text[:max_chars].rstrip()


def parse_response(
    completion: str, mode: str = "recot", *, max_rewrite_chars: int = 320, max_concept_chars: int = MAX_CONCEPT_CHARS
) -> Parsed:
    """Parse the generated text that follows :func:`response_prefix`.

    Strict: the concepts line must be present (``None`` or ``;``-separated phrases); in recot
    mode a non-empty concept list must be followed by a ``Rewrite:`` line. Anything after the
    structure (a model rambling on) is ignored. Raises :class:`ParseError` otherwise.
    ``max_concept_chars``: the longest concept accepted (grounded decoding can only quote the query, so the
    rewriter passes the query's length: a concept spanning an unfamiliar query is still a span of it).
    """
    check_mode(mode)
    lines = [ln.strip() for ln in completion.replace("\r", "\n").split("\n")]
    if mode == "direct":
        rewrite = _single_line(lines[0] if lines else "", max_rewrite_chars)
        if not rewrite:
            raise ParseError("empty rewrite")
        return Parsed(None, rewrite)
    head = lines[0] if lines else ""
    if not head:
        raise ParseError("no concepts after 'Concepts:'")
    if head.rstrip(".").lower() == NONE_TOKEN.lower():
        return Parsed([], None)
    concepts = [c.strip().strip(".\"'") for c in head.split(CONCEPT_SEP)]
    concepts = [c for c in concepts if c]
    if not concepts or len(concepts) > MAX_CONCEPTS or any(len(c) > max_concept_chars for c in concepts):
        raise ParseError(f"malformed concept list {head[:80]!r}")
    if any(c.lower() == NONE_TOKEN.lower() for c in concepts):
        raise ParseError(f"'None' mixed with concepts in {head[:80]!r}")
    if mode == "detect":
        return Parsed(concepts, None)
    rest = [ln for ln in lines[1:] if ln]
    if not rest or not rest[0].startswith(REWRITE_PREFIX):
        raise ParseError("concepts were named but no 'Rewrite:' line follows")
    rewrite = _single_line(rest[0][len(REWRITE_PREFIX) :], max_rewrite_chars)
    if not rewrite:
        raise ParseError("empty rewrite")
    return Parsed(concepts, rewrite)


def is_complete(completion: str, mode: str) -> bool:
    """True once ``completion`` holds a full answer, so generation can stop early."""
    if mode == "direct":
        return "\n" in completion.lstrip()
    lines = completion.lstrip().split("\n")
    head = lines[0].strip()
    if len(lines) == 1:
        return False
    if mode == "detect" or head.rstrip(".").lower() == NONE_TOKEN.lower():
        return True
    return len(lines) >= 3 and lines[1].startswith(REWRITE_PREFIX)
