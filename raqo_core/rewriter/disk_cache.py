"""An on-disk rewrite cache, so re-running an evaluation costs nothing.

One append-only JSONL file per rewriter fingerprint. A line torn by a crash (the last
one) is ignored on reading; everything before it is kept.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from raqo_core.rewriter.base import QueryRewriter, check_queries
from raqo_core.rewriter.result import RewriteResult


class DiskCachedRewriter(QueryRewriter):
    """The file is named after the inner rewriter's fingerprint *once it is loaded*: only then does it
    know its engine (``hf``, ``llamacpp:…``, ``openai:…``) and resolved model, so two engines never
    share a file."""

    def __init__(
        self, inner: QueryRewriter, cache_dir: str | os.PathLike[str] | None = None, *, chunk_size: int = 32, progress: bool = True
    ) -> None:
        """``chunk_size``: queries rewritten between appends to the file, so a run stopped midway keeps what it did
        and a re-run resumes; ``progress``: a bar over the chunks when there is more than one."""
        from raqo_core.errors import RAQOError
        from raqo_core.paths import cache_dir as default_cache

        if chunk_size < 1:
            raise RAQOError(f"chunk_size must be >= 1, got {chunk_size}")
        self.chunk_size = chunk_size
        self.progress = progress
        self.inner = inner
        self._base = Path(cache_dir) if cache_dir else default_cache("rewrites")
        self._path: Path | None = None
        self._mem: dict[str, RewriteResult] = {}
        self._torn = False
        self._offset = 0  # bytes of the file read so far

    @property
    def path(self) -> Path:
        """The cache file (loads the inner rewriter first)."""
        if self._path is None:
            self.inner.load()
            self._base.mkdir(parents=True, exist_ok=True)
            path = self._base / f"{hashlib.sha256(self.inner.fingerprint.encode()).hexdigest()[:20]}.jsonl"
            self._read_new(path, first=True)
            self._path = path
        return self._path

    def _read_new(self, path: Path, *, first: bool = False) -> None:
        """Take the lines appended to the file since the last read: by this object, or by another one with the same
        fingerprint (another row of ``raqo compare``, another process), so nothing is generated twice."""
        if not path.is_file():
            return
        with path.open("rb") as fh:
            fh.seek(self._offset)
            data = fh.read()
        end = data.rfind(b"\n") + 1  # complete lines only: a line being written is read next time
        for raw in data[:end].splitlines():
            try:
                rec = json.loads(raw)
                self._mem[rec["q"]] = RewriteResult(**rec["r"])
            except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError):
                continue  # torn or foreign line
        self._offset += end
        if first and end < len(data):  # a crash cut the last line: it stays one (ignored) line
            self._torn = True
            self._offset += len(data) - end

    @property
    def fingerprint(self) -> str:
        return self.inner.fingerprint

    def load(self) -> DiskCachedRewriter:
        self.inner.load()
        _ = self.path
        return self

    def rewrite_batch(self, queries: Sequence[str], batch_size: int | None = None) -> list[RewriteResult]:
        queries = check_queries(queries)
        path = self.path
        self._read_new(path)
        misses = list(dict.fromkeys(q for q in queries if q not in self._mem))
        fresh_map: dict[str, RewriteResult] = {}
        spans: Any = range(0, len(misses), self.chunk_size)
        if self.progress and len(spans) > 1:
            from tqdm.auto import tqdm

            spans = tqdm(spans, desc=f"rewriting {len(misses)} queries", unit="chunk")
        for a in spans:
            chunk = misses[a : a + self.chunk_size]
            fresh = self.inner.rewrite_batch(chunk, batch_size)
            with path.open("a", encoding="utf-8") as fh:  # one append per chunk: a stopped run keeps every finished chunk
                if self._torn:
                    fh.write("\n")  # a line torn by a crash stays one (ignored) line, not a prefix of the next
                    self._torn = False
                for q, r in zip(chunk, fresh, strict=True):
                    if r.cacheable:
                        self._mem[q] = r
                        fh.write(json.dumps({"q": q, "r": r.to_dict()}, ensure_ascii=False) + "\n")
                fh.flush()
            fresh_map.update(zip(chunk, fresh, strict=True))
        return [fresh_map.get(q) or self._mem[q] for q in queries]
