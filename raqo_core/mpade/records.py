"""MPADE's three datasets as typed records: D_CCR, D_QRE and D_PRO — written, read and validated here only.

One JSON object per line, self-describing::

    D_CCR  {"query": …, "concepts": ["crimson", "orb"], "source": "ambiguous"}        (concepts [] = None)
    D_QRE  {"query": …, "concepts": […], "rewrite": "a red circle", "score": 0.89}
    D_PRO  {"query": …, "concepts": […], "candidates": [{"text": …, "score": 0.89}, …]}   (best first)

MPADE writes them (:mod:`raqo_core.mpade.outputs`); training reads them (:mod:`raqo_core.training.data`).
Files written by hand or by another tool are checked line by line; an error names the file, the line and
what was expected. Keys a record does not define are ignored on reading.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from raqo_core.errors import RAQOError

CCR_FILE, QRE_FILE, PRO_FILE = "D_CCR.jsonl", "D_QRE.jsonl", "D_PRO.jsonl"
MINED_FILE = "records.jsonl"  # every mined query's record: MPADE's resumable working file


def _to_json(obj: Any) -> dict[str, Any]:
    """Field order as declared; ``None`` optional fields are left out."""
    out: dict[str, Any] = {}
    for f in fields(obj):
        v = getattr(obj, f.name)
        if v is None and f.default is None:
            continue
        out[f.name] = [_to_json(x) if hasattr(x, "__dataclass_fields__") else x for x in v] if isinstance(v, list) else v
    return out


@dataclass
class Candidate:
    """One rewrite in a PRO list, scored by the retriever (``source``: who proposed it, e.g. ``policy``)."""

    text: str
    score: float
    source: str | None = None


@dataclass
class CCRRecord:
    """A concept-detection example: the challenging concepts of ``query`` (empty: None)."""

    query: str
    concepts: list[str]
    source: str | None = None  # ambiguous | perturbation | unambiguous


@dataclass
class QRERecord:
    """A rewrite example: ``query`` with its ``concepts`` rewritten to ``rewrite``."""

    query: str
    concepts: list[str]
    rewrite: str
    score: float | None = None


@dataclass
class PRORecord:
    """A ranked list of rewrites of ``query``, best first."""

    query: str
    concepts: list[str]
    candidates: list[Candidate] = field(default_factory=list)


Record = TypeVar("Record", CCRRecord, QRERecord, PRORecord)


def _fail(where: str, message: str) -> RAQOError:
    return RAQOError(f"{where}: {message}")


def _common(where: str, d: Any) -> tuple[str, list[str]]:
    if not isinstance(d, dict):
        raise _fail(where, f"expected a JSON object, got {type(d).__name__}")
    for k in ("query", "concepts"):
        if k not in d:
            raise _fail(where, f"missing field {k!r}")
    if not isinstance(d["query"], str) or not d["query"].strip():
        raise _fail(where, "field 'query' must be a non-empty string")
    if not isinstance(d["concepts"], list) or not all(isinstance(c, str) for c in d["concepts"]):
        raise _fail(where, "field 'concepts' must be a list of strings (empty = None)")
    return d["query"], list(d["concepts"])


def _score(where: str, v: Any, what: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise _fail(where, f"{what} needs a numeric 'score', got {v!r}")
    return float(v)


def ccr_from_json(d: Any, where: str = "D_CCR") -> CCRRecord:
    query, concepts = _common(where, d)
    return CCRRecord(query, concepts, d.get("source"))


def qre_from_json(d: Any, where: str = "D_QRE") -> QRERecord:
    query, concepts = _common(where, d)
    if not isinstance(d.get("rewrite"), str) or not d["rewrite"].strip():
        raise _fail(
            where, "missing field 'rewrite' (a non-empty string)" if "rewrite" not in d else "field 'rewrite' must be a non-empty string"
        )
    return QRERecord(query, concepts, d["rewrite"], None if d.get("score") is None else _score(where, d["score"], "the record"))


def pro_from_json(d: Any, where: str = "D_PRO", min_len: int = 2) -> PRORecord:
    query, concepts = _common(where, d)
    raw = d.get("candidates")
    if "candidates" not in d:
        raise _fail(where, "missing field 'candidates'")
    if not isinstance(raw, list) or len(raw) < min_len:
        raise _fail(where, f"PRO list of {len(raw) if isinstance(raw, list) else 0} candidates; expected at least {min_len}")
    cands = []
    for c in raw:
        if not isinstance(c, dict) or not isinstance(c.get("text"), str):
            raise _fail(where, f"every candidate needs a 'text' string, got {c!r}"[:200])
        cands.append(Candidate(c["text"], _score(where, c.get("score"), "every candidate"), c.get("source")))
    scores = [c.score for c in cands]
    if scores != sorted(scores, reverse=True):
        raise _fail(where, "candidates must be sorted best-first by score")
    return PRORecord(query, concepts, cands)


def _read(path: str | os.PathLike[str], parse: Any) -> list[Any]:
    from raqo_core.io import read_jsonl

    p = Path(path)
    rows = read_jsonl(p)
    if not rows:
        raise RAQOError(f"{p}: empty dataset; expected MPADE output with at least one record")
    return [parse(d, f"{p}:{i}") for i, d in enumerate(rows, start=1)]


def read_ccr(path: str | os.PathLike[str]) -> list[CCRRecord]:
    return _read(path, ccr_from_json)


def read_qre(path: str | os.PathLike[str]) -> list[QRERecord]:
    return _read(path, qre_from_json)


def read_pro(path: str | os.PathLike[str], min_len: int = 2) -> list[PRORecord]:
    return _read(path, lambda d, where: pro_from_json(d, where, min_len))


def write_records(path: str | os.PathLike[str], records: Iterable[CCRRecord | QRERecord | PRORecord]) -> Path:
    """Atomically write records as JSONL (field order as declared)."""
    from raqo_core.io import atomic_write_jsonl

    return atomic_write_jsonl(path, (_to_json(r) for r in records))


def to_json(record: CCRRecord | QRERecord | PRORecord | Candidate) -> dict[str, Any]:
    return _to_json(record)
