"""Offline WordNet, read through nltk from Debian's ``wordnet-base`` or ``NLTK_DATA``.

Debian ships the WordNet 3.0 database in ``/usr/share/wordnet`` without the ``lexnames``
index nltk expects, so RAQO copies it once into its cache (≈30 MB; nltk ≥3.9 refuses
symlinks that leave its root) and adds that standard table. ``NLTK_DATA`` with an nltk ``corpora/wordnet`` folder works too.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

from raqo_core.errors import RAQOError

DEBIAN_WORDNET = Path("/usr/share/wordnet")
_LEXNAMES = [
    "adj.all",
    "adj.pert",
    "adv.all",
    "noun.Tops",
    "noun.act",
    "noun.animal",
    "noun.artifact",
    "noun.attribute",
    "noun.body",
    "noun.cognition",
    "noun.communication",
    "noun.event",
    "noun.feeling",
    "noun.food",
    "noun.group",
    "noun.location",
    "noun.motive",
    "noun.object",
    "noun.person",
    "noun.phenomenon",
    "noun.plant",
    "noun.possession",
    "noun.process",
    "noun.quantity",
    "noun.relation",
    "noun.shape",
    "noun.state",
    "noun.substance",
    "noun.time",
    "verb.body",
    "verb.change",
    "verb.cognition",
    "verb.communication",
    "verb.competition",
    "verb.consumption",
    "verb.contact",
    "verb.creation",
    "verb.emotion",
    "verb.motion",
    "verb.perception",
    "verb.possession",
    "verb.social",
    "verb.stative",
    "verb.weather",
    "adj.ppl",
]
_POS_NUM = {"adj": 3, "adv": 4, "noun": 1, "verb": 2}


def _find_root() -> Path:
    for base in [p for p in os.environ.get("NLTK_DATA", "").split(os.pathsep) if p]:
        cand = Path(base) / "corpora" / "wordnet"
        if (cand / "data.noun").is_file():
            return cand
    if (DEBIAN_WORDNET / "data.noun").is_file():
        import shutil

        from raqo_core.io import atomic_write_text
        from raqo_core.paths import cache_dir

        view = cache_dir("wordnet-view")
        lex = view / "lexnames"
        if not lex.exists():
            for f in DEBIAN_WORDNET.iterdir():
                if f.is_file():
                    shutil.copyfile(f, view / f".{f.name}.tmp")
                    os.replace(view / f".{f.name}.tmp", view / f.name)
            atomic_write_text(lex, "".join(f"{i:02d}\t{n}\t{_POS_NUM[n.split('.')[0]]}\n" for i, n in enumerate(_LEXNAMES)))
        return view
    raise RAQOError(
        "WordNet is not available: install Debian's 'wordnet-base' (apt-get install wordnet-base, "
        "files in /usr/share/wordnet) or set NLTK_DATA to a folder holding corpora/wordnet"
    )


@functools.lru_cache(maxsize=1)
def wordnet() -> Any:
    """An nltk ``WordNetCorpusReader`` (loaded once, ~2 s)."""
    import warnings

    import nltk
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    root = _find_root()
    if str(root) not in nltk.data.path:  # nltk ≥3.9 only reads from authorised roots
        nltk.data.path.append(str(root))

    class _Reader(WordNetCorpusReader):
        def map_wn(self, version: str = "wordnet") -> None:
            # nltk 3.10 maps the loaded WordNet onto its own downloaded 'wordnet' corpus for OMW
            # data; RAQO reads WordNet 3.0 itself and needs no mapping (and has no download).
            return None

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "multilingual functions are not available"
        return _Reader(str(root), None)


def synonyms(word: str, pos: str | None = None, limit: int = 10) -> list[str]:
    """Single- or multi-word lemma names sharing a synset with ``word`` (most frequent senses first)."""
    out: list[str] = []
    for s in wordnet().synsets(word.replace(" ", "_"), pos=pos):
        for lemma in s.lemma_names():
            w = lemma.replace("_", " ").lower()
            if w != word.lower() and w not in out:
                out.append(w)
    return out[:limit]


def definition(word: str, pos: str | None = None) -> str | None:
    ss = wordnet().synsets(word.replace(" ", "_"), pos=pos)
    return ss[0].definition() if ss else None


def hypernyms(word: str, pos: str | None = "n", limit: int = 5) -> list[str]:
    out: list[str] = []
    for s in wordnet().synsets(word.replace(" ", "_"), pos=pos)[:2]:
        for h in s.hypernyms():
            for lemma in h.lemma_names()[:1]:
                w = lemma.replace("_", " ").lower()
                if w not in out:
                    out.append(w)
    return out[:limit]
