"""The paraphrase register: queries worded unlike anything the benchmark generator, MPADE or training saw.

One query per val/test image of the embedded benchmark: the scene's plain caption with two attribute words
(colour, shape, size or fill) replaced by synonyms from the tables below, in a new framing half the time and
with a new filler word a quarter of the time.

**How disjointness is guaranteed.** :func:`check_disjoint` runs on every generation and raises when any content
word of these tables (a word outside :data:`FUNCTION_WORDS`) occurs

- in the generator's tables (:mod:`raqo_core.data.synth`: plain words, seen and held-out rare forms, framings,
  distractors) — so no register the benchmark makes, ``transfer`` included, uses it; or
- in any caption or register of the train split — everything the retriever, MPADE (which mines the train split's
  user queries) and the rewriter's training data can contain.

MPADE's rewrites and the look-up's lexicon only ever use the retriever's vocabulary, which is the train captions'.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from pathlib import Path

from raqo_core.errors import RAQOError
from raqo_core.text import STOPWORDS, tokenize_words

REGISTER = "paraphrase"
ORACLE_REGISTER = "paraphrase_oracle"  # the plain caption each paraphrase was made from (its oracle)
MARKER = "paraphrase.json"  # written beside manifest.jsonl once the register is in it
VERSION = "2"  # the marker's: 2 added paraphrase_oracle
QUERIES_VERSION = "1"  # seeds the queries: changing it changes every paraphrase

SYNONYMS: dict[str, list[str]] = {
    # colours
    "red": ["cherry", "ruby"],
    "blue": ["navy", "sapphire"],
    "green": ["jade", "olive"],
    "yellow": ["mustard", "saffron"],
    "purple": ["plum", "mauve"],
    "orange": ["pumpkin", "ginger"],
    "black": ["charcoal", "raven"],
    "pink": ["blush", "salmon"],
    # shapes
    "circle": ["ball", "round"],
    "square": ["box", "quadrate"],
    "triangle": ["trigon", "arrowhead"],
    "star": ["sunburst", "sparkle"],
    "diamond": ["kite", "rhomboid"],
    "cross": ["crucifix", "saltire"],
    # sizes and fills
    "large": ["big", "massive"],
    "small": ["mini", "petite"],
    "solid": ["painted", "coloured"],
    "outline": ["empty", "open"],
}
FRAMINGS = [
    "do you have {x}",
    "got any shots of {x}?",
    "search for {x}",
    "{x} would be perfect",
    "hoping to see {x}",
    "results with {x} only",
]
FILLERS = ["neat", "funky", "cute", "fancy"]
# words that carry no concept (the tokeniser's stopwords plus pronouns and auxiliaries): allowed in both registers
FUNCTION_WORDS = STOPWORDS | frozenset(["i", "me", "my", "you", "do", "have", "any", "would"])


def content_words(texts: Iterable[str]) -> set[str]:
    return {w for t in texts for w in tokenize_words(t) if w not in FUNCTION_WORDS}


def table_words() -> set[str]:
    """Every content word of this register's tables."""
    return content_words([w for ws in SYNONYMS.values() for w in ws] + [f.format(x="") for f in FRAMINGS] + FILLERS)


def generator_words() -> set[str]:
    """Every content word of the benchmark generator's tables (plain, seen and held-out forms, framings, distractors)."""
    from raqo_core.data import synth as S

    texts: list[str] = []
    for plain, (_, seen, held) in S._COLOURS.items():
        texts += [plain, *seen, *held]
    for tbl in (S._SHAPES, S._SIZES, S._FILLS):
        for plain, (seen, held) in tbl.items():
            texts += [plain, *seen, *held]
    for plain, (_, seen, held) in S._RELATIONS.items():
        texts += [plain, *seen, *held]
    texts += [f.format(x="") for f in S._FRAMINGS] + list(S._DISTRACTORS)
    return content_words(texts)


def check_disjoint(seen_texts: Iterable[str] = ()) -> None:
    """Raise naming the overlap when a content word of this register's tables is in the generator's tables or in
    ``seen_texts`` (the train split's captions and registers)."""
    ours = table_words()
    for what, words in (
        ("the benchmark generator's tables", generator_words()),
        ("the train split's captions and registers", content_words(seen_texts)),
    ):
        clash = sorted(ours & words)
        if clash:
            raise RAQOError(f"paraphrase register words {clash} occur in {what}; the register must use words nothing else saw")
    missing = sorted(set(SYNONYMS) - _plain_words())
    if missing:
        raise RAQOError(f"paraphrase synonyms for {missing}, which are not plain words of the generator")


def _plain_words() -> set[str]:
    from raqo_core.data import synth as S

    return set(S._COLOURS) | set(S._SHAPES) | set(S._SIZES) | set(S._FILLS)


def paraphrase_pair(scene: object, rng: random.Random) -> tuple[str, str]:
    """A plain caption of ``scene`` (a :class:`raqo_core.data.synth.Scene`) and its paraphrase: two attribute words
    swapped for this register's synonyms, then maybe a filler and a framing."""
    from raqo_core.data import synth as S

    plan = rng.choice(S._caption_plan(5))
    plain = S._caption(scene, plan, S._Wording(rng, 0.0))  # type: ignore[arg-type]
    words = plain.split(" ")
    slots = [i for i, w in enumerate(words) if w in SYNONYMS]
    for i in rng.sample(slots, min(2, len(slots))):
        words[i] = rng.choice(SYNONYMS[words[i]])
    if rng.random() < 0.25:
        k = rng.choice([i for i, w in enumerate(words) if w == "a"])
        words.insert(k + 1, rng.choice(FILLERS))
    text = " ".join(words)
    if rng.random() < 0.5:
        text = rng.choice(FRAMINGS).format(x=text)
    return plain, text


def has_paraphrase_register(folder: str | Path) -> bool:
    """Whether ``folder`` holds this version of the register (an older one is regenerated: same queries, more fields)."""
    import json

    marker = Path(folder) / MARKER
    try:
        return bool(json.loads(marker.read_text()).get("version") == VERSION)
    except (OSError, ValueError, AttributeError):
        return False


def add_paraphrase_register(folder: str | Path, seed: int | None = None) -> int:
    """Add the ``paraphrase`` register (and ``paraphrase_oracle``, the plain caption of each) to the val and test records of the embedded benchmark in ``folder`` (the
    manifest is rewritten atomically; rerunning gives the same queries). Returns the number of queries."""
    import json

    from raqo_core.data import synth as S
    from raqo_core.data.manifest import load_manifest, write_manifest
    from raqo_core.io import atomic_write_json

    root = Path(folder)
    meta_path = root / "benchmark.json"
    if not meta_path.is_file():
        raise RAQOError(f"{str(root)!r} is not an embedded benchmark (no benchmark.json): the paraphrase register needs its scenes")
    meta = json.loads(meta_path.read_text())
    seed = int(meta.get("seed", 0)) if seed is None else seed
    m = load_manifest(root, check_images=False)
    train = m.split("train")
    check_disjoint([t for r in train for t in r.captions + [x for v in r.registers.values() for x in v]])
    n = 0
    for rec in m.records:
        if rec.split not in ("val", "test"):
            continue
        index = int(rec.image_id.rsplit("-", 1)[1])
        scene = S.sample_scene(random.Random(f"raqo-synth-{meta.get('version', S.GENERATOR_VERSION)}-{seed}-{rec.split}-{index}"))
        rng = random.Random(f"raqo-paraphrase-{QUERIES_VERSION}-{seed}-{rec.split}-{index}")
        plain, query = paraphrase_pair(scene, rng)
        rec.registers[REGISTER], rec.registers[ORACLE_REGISTER] = [query], [plain]
        n += 1
    write_manifest(root, m.records)
    atomic_write_json(root / MARKER, {"register": REGISTER, "version": VERSION, "queries": n, "splits": ["val", "test"]})
    return n
