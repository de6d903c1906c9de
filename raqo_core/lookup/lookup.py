"""Detect → rewrite → look up: replace the words this retriever still does not know by words it does.

    lookup = ConceptLookup.from_folder("raqo_core/assets/embedded_lookup")   # or ConceptLookup.embedded()
    text, hints = lookup.apply("a large vermilion circle left of a small blue cube")
    # "a large red circle left of a small blue square", [Hint("vermilion", "red", "wordnet", ...), ...]

Only words the retriever never saw in its training captions change (``LookupConfig.only_unknown``; also the
rarely seen *weak* words without it; see :class:`~raqo_core.lookup.vocabulary.RetrieverVocabulary`): a word the
retriever knows is one of the query's objects as the retriever reads it and is never replaced. A replacement must be a
strong word or phrase and fit between the weak word's neighbours the way it does in the training captions.
Each weak word gets a :class:`Hint` saying what happened and why; a word no candidate fits stays as the
model wrote it (``replacement=None``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from raqo_core.errors import RAQOError
from raqo_core.lookup.sources import SOURCE_REGISTRY, Candidate, LexiconSource, Source
from raqo_core.lookup.vocabulary import RetrieverVocabulary
from raqo_core.text import WORD

VOCABULARY_FILE = "vocabulary.json"
DEFAULT_SOURCES = ("lexicon", "wordnet", "gloss")
PASSES = 2
ARTICLES = frozenset(["a", "an", "the"])


@dataclass(frozen=True)
class Hint:
    """What the look-up did with one weak word or span: ``replacement`` None = left as it was, ``""`` = deleted."""

    word: str
    replacement: str | None
    source: str
    reason: str
    fit: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class LookupConfig:
    """How far a look-up may go."""

    min_fit: float = field(default=0.002, metadata={"help": "least neighbour fit (0..1) a replacement needs in the training captions"})
    max_hints: int = field(default=8, metadata={"help": "most words replaced per query"})
    max_depth: int = field(default=2, metadata={"help": "WordNet: 0 synonyms, 1 + similar/hypernyms, 2 + hypernyms of hypernyms"})
    only_unknown: bool = field(
        default=True,
        metadata={"help": "look up only words the retriever never saw in training; False: every weak (rarely seen) word too"},
    )
    lexicon_weak: bool = field(
        default=True,
        metadata={
            "help": "also replace weak (rarely seen) words the mined lexicon has an entry for, by that entry only "
            "(chosen on val, docs/lookup.md); False: unknown words only"
        },
    )
    delete_unknown: bool = field(
        default=True, metadata={"help": "apply lexicon deletions (spans the retriever's recall rewarded dropping)"}
    )
    drop_unresolved: bool = field(
        default=False,
        metadata={
            "help": "drop a word the retriever never saw when no source resolves it (it carries no signal for this "
            "retriever); False: leave it as the model wrote it"
        },
    )

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_fit <= 1.0:
            raise RAQOError(f"LookupConfig.min_fit must be in [0, 1], got {self.min_fit}")
        if self.max_hints < 1:
            raise RAQOError(f"LookupConfig.max_hints must be >= 1, got {self.max_hints}")
        if self.max_depth not in (0, 1, 2):
            raise RAQOError(f"LookupConfig.max_depth must be 0, 1 or 2, got {self.max_depth}")


class ConceptLookup:
    """A retriever vocabulary plus look-up sources (tried in order: the mined lexicon before WordNet)."""

    def __init__(self, vocabulary: RetrieverVocabulary, sources: Sequence[Source], config: LookupConfig | None = None) -> None:
        if not isinstance(vocabulary, RetrieverVocabulary) or not len(vocabulary):
            raise RAQOError("ConceptLookup needs a non-empty RetrieverVocabulary")
        self.vocabulary = vocabulary
        self.sources = list(sources)
        self.config = config or LookupConfig()
        self._lexicon = next((s for s in self.sources if isinstance(s, LexiconSource) and s.available), None)

    @classmethod
    def from_folder(
        cls, folder: str | os.PathLike[str], config: LookupConfig | None = None, *, sources: Sequence[str] = DEFAULT_SOURCES
    ) -> ConceptLookup:
        """``folder/vocabulary.json`` (required) plus the ``sources`` named in
        :data:`~raqo_core.lookup.sources.SOURCE_REGISTRY`, in order (default: ``folder/preferences.json``, MPADE's
        lexicon, then WordNet). A source that cannot be used is recorded in :attr:`status`, and the others are used."""
        root = Path(folder)
        if not root.is_dir():
            raise RAQOError(f"look-up folder {str(root)!r} does not exist (build one with `raqo lookup build`)")
        cfg = config or LookupConfig()
        built = [SOURCE_REGISTRY.get(name)(root, cfg) for name in sources]
        return cls(RetrieverVocabulary.load(root / VOCABULARY_FILE), built, cfg)

    @classmethod
    def embedded(cls, config: LookupConfig | None = None) -> ConceptLookup:
        """The look-up shipped for the embedded retriever (``raqo_core/assets/embedded_lookup``)."""
        return cls.from_folder(embedded_lookup_dir(), config)

    @property
    def status(self) -> dict[str, str]:
        return {s.name: s.status for s in self.sources}

    @property
    def fingerprint(self) -> str:
        """Keys caches: the vocabulary's size and the sources that are usable."""
        c = self.config
        lex = len(self._lexicon.entries) if self._lexicon else 0
        used = "+".join(s.name for s in self.sources if s.available) or "none"
        return f"lookup[{used}|v{len(self.vocabulary)}|l{lex}|f{c.min_fit}|h{c.max_hints}|d{c.max_depth}|x{int(c.delete_unknown)}|u{int(c.only_unknown)}{'|w' if c.lexicon_weak else ''}{'|r' if c.drop_unresolved else ''}]"

    def describe(self) -> dict[str, Any]:
        return {"vocabulary": self.vocabulary.describe(), "sources": self.status, "config": asdict(self.config)}

    # -- the look-up --------------------------------------------------------------------
    def _resolve(self, cand: Candidate, source: str) -> tuple[str, str] | None:
        """A candidate as strong text: itself, or one lexicon step from a weak candidate (``block`` → ``square``)."""
        if cand.text == "" or self.vocabulary.is_strong(cand.text):
            return cand.text, source
        if self._lexicon is not None and source != "lexicon":
            for nxt in self._lexicon.candidates(cand.text):
                if nxt.text and self.vocabulary.is_strong(nxt.text):
                    return nxt.text, f"{source}+lexicon"
        return None

    def _choose(self, phrase: str, left: str | None, right: str | None, blind: bool) -> Hint:
        """The hint for ``phrase`` between ``left`` and ``right``; ``blind``: accept a candidate when neither
        neighbour is evidence (the last pass, after the neighbours had their chance to be replaced)."""
        tried = blocked = 0
        lexicon_only = self._lexicon_only(phrase)
        for src in self.sources:
            if not src.available or (lexicon_only and src is not self._lexicon):
                continue
            best: tuple[float, str, str, str] | None = None
            best_depth = None
            for cand in src.candidates(phrase):
                if best_depth is not None and cand.depth > best_depth:
                    break  # the nearest depth with a fitting candidate wins
                got = self._resolve(cand, src.name)
                if got is None:
                    continue
                tried += 1
                text, via = got
                if text == "":
                    if not self.config.delete_unknown:
                        continue
                    return Hint(phrase, "", via, f"{cand.relation}: the retriever's recall rewarded dropping it")
                if len(text.split()) > len(phrase.split()):
                    continue  # a word becomes a word, a span at most as many: "vermilion" → "red", never "orange red"
                fit = self.vocabulary.fit(text.split(), left, right)
                if fit is None:  # neither neighbour is a word the retriever knows: no evidence either way
                    if not blind:
                        blocked += 1
                        continue
                    fit = self.config.min_fit
                if fit >= self.config.min_fit and (best is None or fit > best[0]):
                    best, best_depth = (fit, text, via, cand.relation), cand.depth
            if best is not None:
                fit, text, via, relation = best
                return Hint(phrase, text, via, f"{relation}; fits between {left or '<s>'!r} and {right or '</s>'!r}", round(fit, 3))
        if not any(s.available for s in self.sources):
            return Hint(phrase, None, "", "no look-up source is available: " + "; ".join(f"{k} {v}" for k, v in self.status.items()))
        if blocked and blocked == tried:
            return Hint(
                phrase,
                None,
                "",
                f"{blocked} candidate(s), but no neighbour the retriever knows to check them against: left as the model wrote it",
            )
        why = (
            "no strong neighbour"
            if not tried
            else f"none of {tried} strong neighbour(s) fits between {left or '<s>'!r} and {right or '</s>'!r}"
        )
        return Hint(phrase, None, "", why + ": left as the model wrote it")

    def apply(self, text: str, concepts: Sequence[str] | None = None) -> tuple[str, list[Hint]]:
        """``text`` with its weak words replaced, and one :class:`Hint` per weak word or span looked up.

        ``concepts`` (the rewriter's detected concepts): when given, only weak words inside them are looked up.
        Never raises on text: an empty text comes back unchanged with no hints.
        """
        if not isinstance(text, str):
            raise RAQOError(f"ConceptLookup.apply takes a string, got {type(text).__name__}")
        matches = list(WORD.finditer(text.lower()))
        words = [m.group() for m in matches]
        if not words:
            return text, []
        allowed: set[str] | None = None
        if concepts is not None:
            allowed = {w for c in concepts for w in WORD.findall(str(c).lower())}
        spans: list[tuple[int, int]] = []  # [start, end) word indices to look up, left to right
        taken = [False] * len(words)
        if self._lexicon is not None:  # multi-word spans the lexicon knows ("to the west of"), longest first
            for phrase in self._lexicon.phrases():
                p = phrase.split()
                for i in range(len(words) - len(p) + 1):
                    if words[i : i + len(p)] == p and not any(taken[i : i + len(p)]) and any(self._target(w) for w in p):
                        spans.append((i, i + len(p)))
                        for k in range(i, i + len(p)):
                            taken[k] = True
        for i, w in enumerate(words):
            if not taken[i] and self._target(w) and (allowed is None or w in allowed):
                spans.append((i, i + 1))
        spans.sort()
        hints: dict[tuple[int, int], Hint] = {}
        new: dict[int, tuple[int, str]] = {}  # start word index -> (end, replacement)
        for n_pass in range(PASSES):  # a later pass sees the neighbours an earlier one replaced
            for a, b in spans:
                if a in new:
                    continue
                phrase = " ".join(words[a:b])
                if len(new) >= self.config.max_hints:
                    hints.setdefault((a, b), Hint(phrase, None, "", f"over max_hints={self.config.max_hints}: left as the model wrote it"))
                    continue
                h = self._choose(phrase, self._beside(words, new, a, -1), self._beside(words, new, b - 1, +1), n_pass == PASSES - 1)
                hints[(a, b)] = h
                if h.replacement == "" and b - a > 1 and words[b - 1] in ARTICLES:
                    new[a] = (b - 1, "")  # a deleted framing keeps its trailing article: "… an image of a star" → "a star"
                elif h.replacement is not None:
                    new[a] = (b, h.replacement)
            if all(h.replacement is not None for h in hints.values()):
                break
        if self.config.drop_unresolved and any(s.available for s in self.sources):
            for (a, b), h in hints.items():
                if (
                    h.replacement is None
                    and a not in new
                    and not h.reason.startswith("over max_hints")
                    and all(self.vocabulary.is_unknown(w) for w in words[a:b])
                ):
                    hints[(a, b)] = Hint(h.word, "", "vocabulary", f"the retriever never saw it and {h.reason.split(':')[0]}: dropped")
                    new[a] = (b, "")
        found = [hints[s] for s in spans if s in hints]
        if not new:
            return text, found
        out, pos, k = [], 0, 0
        while k < len(words):
            if k in new:
                end, repl = new[k]
                out.append(text[pos : matches[k].start()])
                out.append(repl)
                pos = matches[end - 1].end()
                k = end
            else:
                k += 1
        out.append(text[pos:])
        result = " ".join("".join(out).split())
        return (result if WORD.search(result.lower()) else text), found

    def _target(self, word: str) -> bool:
        """Whether ``word`` is looked up: unknown to the retriever (or, without ``only_unknown``, weak; with
        ``lexicon_weak``, weak with an entry in the mined lexicon)."""
        if not self.config.only_unknown:
            return self.vocabulary.is_weak(word)
        return self.vocabulary.is_unknown(word) or (self._lexicon_only(word))

    def _lexicon_only(self, phrase: str) -> bool:
        """A known phrase the look-up may touch only through the mined lexicon (``lexicon_weak``)."""
        return (
            self.config.lexicon_weak
            and self._lexicon is not None
            and not any(self.vocabulary.is_unknown(w) for w in phrase.split())
            and any(self.vocabulary.is_weak(w) for w in phrase.split())
            and bool(self._lexicon.candidates(phrase))
        )

    @staticmethod
    def _beside(words: list[str], new: dict[int, tuple[int, str]], i: int, step: int) -> str | None:
        """The word next to index ``i`` (``step`` -1: before it, +1: after it) once the replacements in ``new`` are
        made, deleted words skipped (None: the text's edge)."""
        k = i + step
        while 0 <= k < len(words):
            start = next((s for s, (e, _) in new.items() if s <= k < e), None)
            if start is None:
                return words[k]
            end, repl = new[start]
            if repl:
                return repl.split()[-1 if step < 0 else 0]
            k = start - 1 if step < 0 else end
        return None


def embedded_lookup_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "assets" / "embedded_lookup"
