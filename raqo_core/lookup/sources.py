"""Where a look-up finds replacements for a weak word: one class per source, one registry.

- :class:`LexiconSource` — the retriever preference lexicon MPADE mines (``preferences.json``): which spans
  this retriever misreads and which replacement its recall rewarded, deletions included.
- :class:`WordNetSource` — lexical neighbours: synonyms, similar adjectives and hypernyms (up to two levels).
- :class:`GlossSource` — the words of WordNet's definitions of a word (``onyx``: "a chalcedony with alternating
  black and white bands"), for words whose synonyms and hypernyms name nothing the retriever knows.

A source returns :class:`Candidate` s; it never raises at query time. A source that cannot be used (a missing,
empty, oversized or unreadable lexicon; WordNet not installed) is *unavailable*: it returns nothing and its
``status`` says why, so the look-up falls back to the others and, with none, to the model's rewrite alone.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from raqo_core.registry import Registry
from raqo_core.text import STOPWORDS, tokenize_words

MAX_LEXICON_BYTES = 16 * 1024 * 1024
DELETED, KEPT = "(deleted)", "(kept)"  # as raqo_core.mpade.preferences writes them
LEXICON_FILE = "preferences.json"  # in a look-up folder: a copy of MPADE's


@dataclass(frozen=True)
class Candidate:
    """A replacement for a word or phrase: ``text`` ("" = delete it), how far it is from the word
    (``depth`` 0 = a synonym or what the retriever's recall rewarded), and from which relation."""

    text: str
    depth: int
    relation: str


class Source(Protocol):
    name: str
    status: str

    @property
    def available(self) -> bool: ...

    def candidates(self, phrase: str) -> list[Candidate]: ...

    def phrases(self) -> list[str]: ...


class LexiconSource:
    """Replacements this retriever's recall rewarded, from an MPADE ``preferences.json``.

    A concept becomes an entry when its most frequent change (a word-for-word replacement, or a deletion when the
    best rewrites dropped it) holds at least ``min_share`` of the queries with an accepted rewrite, at least twice
    the next change's count, and there are ``min_support`` or more of those queries. Keeping it is no change.
    """

    name = "lexicon"

    def __init__(self, path: str | os.PathLike[str] | None, *, min_share: float = 0.4, min_support: int = 2) -> None:
        self.path = None if path is None else Path(path)
        self.min_share = min_share
        self.min_support = min_support
        self.entries: dict[str, str] = {}
        self.status = self._read()

    def _read(self) -> str:
        p = self.path
        if p is None:
            return "unavailable: no lexicon given"
        if not p.is_file():
            return f"unavailable: {str(p)!r} does not exist"
        size = p.stat().st_size
        if size > MAX_LEXICON_BYTES:
            return f"unavailable: {str(p)!r} is {size / 1e6:.0f} MB, over the {MAX_LEXICON_BYTES / 1e6:.0f} MB limit"
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
            rows = data["concepts"]
            if not isinstance(rows, list):
                raise TypeError("'concepts' is not a list")
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
            return f"unavailable: {str(p)!r} is not an MPADE preferences.json ({type(exc).__name__}: {exc})"
        for row in rows:
            try:
                concept = " ".join(tokenize_words(str(row["concept"])))
                support = int(row["with_accepted_rewrite"])
                changes = [(str(t), int(k)) for t, k in row["replacements"] if t != KEPT]
            except (KeyError, TypeError, ValueError):
                continue  # one malformed row loses that row only
            best, n = changes[0] if changes else (KEPT, 0)
            runner_up = changes[1][1] if len(changes) > 1 else 0
            if not concept or best == KEPT or support < self.min_support or n < self.min_share * support or n < 2 * runner_up:
                continue  # too rare, mostly kept, or contested ("over" → below ×27, above ×14: the rewrites reordered)
            text = "" if best == DELETED else " ".join(tokenize_words(str(best)))
            if text != concept:
                self.entries[concept] = text
        if not self.entries:
            return f"unavailable: {str(p)!r} has no usable entries"
        return f"ok: {len(self.entries)} entries"

    @property
    def available(self) -> bool:
        return bool(self.entries)

    def phrases(self) -> list[str]:
        """The entries' multi-word spans, longest first (a look-up matches these before single words)."""
        return sorted((c for c in self.entries if " " in c), key=lambda c: -len(c.split()))

    def candidates(self, phrase: str) -> list[Candidate]:
        got = self.entries.get(phrase)
        return [] if got is None else [Candidate(got, 0, "deleted" if got == "" else "rewarded")]


class _WordNetBacked:
    """What the WordNet sources share: WordNet loaded once (unavailable, with the reason, when it cannot be), and
    each phrase's candidates computed once by :meth:`_related`."""

    name = "wordnet"

    def __init__(self) -> None:
        self._cache: dict[str, list[Candidate]] = {}
        self._wn: Any = None
        try:
            from raqo_core.lexicon import wordnet

            self._wn = wordnet()
            self.status = "ok"
        except Exception as exc:  # RAQOError (not installed) or a broken nltk: the look-up goes on without it
            self.status = f"unavailable: {exc}"

    @property
    def available(self) -> bool:
        return self._wn is not None

    def phrases(self) -> list[str]:
        return []

    def candidates(self, phrase: str) -> list[Candidate]:
        if self._wn is None or not phrase:
            return []
        if phrase not in self._cache:
            self._cache[phrase] = self._related(phrase)
        return self._cache[phrase]

    def _related(self, phrase: str) -> list[Candidate]:
        raise NotImplementedError


class WordNetSource(_WordNetBacked):
    """WordNet neighbours of a word: synonyms (depth 0), similar adjectives and hypernyms (depth 1),
    hypernyms of hypernyms (depth 2); the ``max_senses`` most frequent senses only."""

    name = "wordnet"

    def __init__(self, *, max_senses: int = 8, max_depth: int = 2) -> None:
        self.max_senses = max_senses
        self.max_depth = max_depth
        super().__init__()

    def _related(self, phrase: str) -> list[Candidate]:
        out: dict[str, Candidate] = {}

        def add(synset: Any, depth: int, relation: str) -> None:
            for lemma in synset.lemma_names():
                text = " ".join(tokenize_words(lemma.replace("_", " ")))
                if text and text != phrase and text not in out:
                    out[text] = Candidate(text, depth, relation)

        senses = self._wn.synsets(phrase.replace(" ", "_"))[: self.max_senses]
        for s in senses:
            add(s, 0, "synonym")
        if self.max_depth >= 1:
            for s in senses:
                for t in s.similar_tos() + s.also_sees():
                    add(t, 1, "similar")
                for h in s.hypernyms():
                    add(h, 1, "hypernym")
        if self.max_depth >= 2:
            for s in senses:
                for h in s.hypernyms():
                    for h2 in h.hypernyms():
                        add(h2, 2, "hypernym²")
        return sorted(out.values(), key=lambda c: c.depth)


class GlossSource(_WordNetBacked):
    """The content words of WordNet's definitions of a word, sense by sense: ``depth`` is the sense's rank (its
    most frequent sense first), so the look-up takes the first sense whose definition names a word that fits.

    ``amethyst`` → "a transparent purple variety of quartz" → ``purple``; ``crucifix`` → "representation of the cross
    on which Jesus died" → ``cross``. Which of a definition's words is taken is the look-up's neighbour fit, so a colour
    is only taken where the training captions put a colour.
    """

    name = "gloss"

    def __init__(self, *, max_senses: int = 4, lexnames: frozenset[str] | None = None) -> None:
        self.max_senses = max_senses
        self.lexnames = lexnames  # None: every sense; else only senses of these WordNet lexicographer files
        super().__init__()

    def _related(self, phrase: str) -> list[Candidate]:
        out: dict[str, Candidate] = {}
        own = set(phrase.split())
        senses = [s for s in self._wn.synsets(phrase.replace(" ", "_")) if self.lexnames is None or s.lexname() in self.lexnames]
        for rank, s in enumerate(senses[: self.max_senses]):
            for w in tokenize_words(s.definition().replace("-", " ")):
                if w not in STOPWORDS and w not in own and w not in out:
                    out[w] = Candidate(w, rank, "gloss")
        return list(out.values())


def lexicon_source(folder: Path, config: Any) -> LexiconSource:
    return LexiconSource(Path(folder) / LEXICON_FILE)


def wordnet_source(folder: Path, config: Any) -> WordNetSource:
    return WordNetSource(max_depth=config.max_depth)


# the senses that describe how a thing looks: attributes (colours, sizes), shapes, descriptive adjectives
VISUAL_LEXNAMES = frozenset(["noun.attribute", "noun.shape", "adj.all"])


def gloss_source(folder: Path, config: Any) -> GlossSource:
    return GlossSource()


def visual_gloss_source(folder: Path, config: Any) -> GlossSource:
    g = GlossSource(lexnames=VISUAL_LEXNAMES)
    g.name = "visual_gloss"
    return g


# name -> factory(look-up folder, LookupConfig) -> Source; ConceptLookup.from_folder(sources=...) builds them in order
SOURCE_REGISTRY: Registry[Any] = Registry("look-up source")
SOURCE_REGISTRY.register("lexicon", lexicon_source)
SOURCE_REGISTRY.register("wordnet", wordnet_source)
SOURCE_REGISTRY.register("gloss", gloss_source)
SOURCE_REGISTRY.register("visual_gloss", visual_gloss_source)
