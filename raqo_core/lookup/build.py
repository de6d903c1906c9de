"""Writing a look-up folder: ``vocabulary.json`` from the captions the retriever was trained on, plus a copy of
MPADE's preference lexicon (``preferences.json``) when one is given. ``raqo lookup build`` and ``raqo train``
(which puts one in every adapter it publishes, ``<adapter>/lookup``) both write it here."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from raqo_core.errors import RAQOError
from raqo_core.lookup.lookup import VOCABULARY_FILE
from raqo_core.lookup.sources import LEXICON_FILE
from raqo_core.lookup.vocabulary import RetrieverVocabulary


def build_lookup_folder(
    manifest: Any,
    out: str | os.PathLike[str],
    *,
    mpade: str | os.PathLike[str] | None = None,
    lexicon: dict[str, Any] | None = None,
    min_count: int = 3,
    source: str = "",
) -> Path:
    """Write the look-up folder ``out`` for the retriever trained on ``manifest``'s train captions. The lexicon:
    ``mpade``, an MPADE output folder holding ``preferences.json`` (``raqo preferences DIR``), or ``lexicon``, its
    content (``{"retriever": …, "concepts": rows}``, :func:`mined_lexicon`); neither: WordNet is the only source.
    Each file is written atomically, so a reader sees the old file or the new one."""
    if min_count < 1:
        raise RAQOError(f"min_count must be >= 1, got {min_count}")
    if mpade is not None and lexicon is not None:
        raise RAQOError("give the lexicon as an MPADE folder (mpade=) or as rows (lexicon=), not both")
    path = None
    if mpade is not None:
        path = Path(mpade) / LEXICON_FILE
        if not path.is_file():
            raise RAQOError(f"{str(path)!r} does not exist: run `raqo preferences {mpade}` first")
    root = Path(out)
    vocab = RetrieverVocabulary.from_manifest(manifest, min_count=min_count, source=source)
    root.mkdir(parents=True, exist_ok=True)
    vocab.save(root / VOCABULARY_FILE)
    if path is not None:
        tmp = root / f".{LEXICON_FILE}.tmp"
        shutil.copyfile(path, tmp)
        tmp.replace(root / LEXICON_FILE)
    elif lexicon is not None:
        from raqo_core.io import atomic_write_json

        atomic_write_json(root / LEXICON_FILE, lexicon)
    else:
        (root / LEXICON_FILE).unlink(missing_ok=True)  # a rebuilt folder never keeps an older lexicon
    return root


LEXICON_TOP = 200  # concepts kept from MPADE's records (the shipped embedded look-up was built with --top 200)


def mined_lexicon(mpade: str | os.PathLike[str], retriever: str = "", *, top: int = LEXICON_TOP) -> dict[str, Any]:
    """The preference lexicon of the MPADE outputs in ``mpade``, as ``preferences.json`` holds it (no rank gains,
    nothing written to ``mpade``)."""
    from raqo_core.mpade.preferences import lexicon_rows, read_records

    return {"retriever": retriever, "concepts": lexicon_rows(read_records(Path(mpade)), None, top=top)}
