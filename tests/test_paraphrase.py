"""The paraphrase register: disjoint from the generator and the train split, deterministic, one query per image."""

from __future__ import annotations

import shutil

import pytest

from raqo_core.data import paraphrase as P
from raqo_core.errors import RAQOError
from raqo_core.text import tokenize_words


def test_tables_are_disjoint_from_the_generator_and_cover_every_plain_word():
    P.check_disjoint()
    assert not P.table_words() & P.generator_words()
    assert "crimson" in P.generator_words() and "vermilion" in P.generator_words() and "looking" in P.generator_words()


def test_a_clash_is_an_error_naming_the_words(monkeypatch):
    monkeypatch.setitem(P.SYNONYMS, "red", ["cherry", "crimson"])
    with pytest.raises(RAQOError, match="\\['crimson'\\] occur in the benchmark generator's tables"):
        P.check_disjoint()
    monkeypatch.setitem(P.SYNONYMS, "red", ["cherry"])
    with pytest.raises(RAQOError, match="\\['cherry'\\] occur in the train split's captions and registers"):
        P.check_disjoint(["a cherry circle"])
    monkeypatch.setitem(P.SYNONYMS, "mauve", ["lilacish"])
    with pytest.raises(RAQOError, match="not plain words of the generator"):
        P.check_disjoint()


def test_register_is_added_once_per_val_and_test_image_and_is_deterministic(tiny_bench, tmp_path):
    from raqo_core.data.manifest import load_manifest

    d = tmp_path / "bench"
    shutil.copytree(tiny_bench, d)
    assert not P.has_paraphrase_register(d)
    n = P.add_paraphrase_register(d)
    m = load_manifest(d)
    assert n == len(m.split("val")) + len(m.split("test")) == 48 and P.has_paraphrase_register(d)
    queries = [q for r in m.records if r.split != "train" for q in r.texts("paraphrase")]
    assert len(queries) == n and all("paraphrase" not in r.registers for r in m.split("train"))
    for r in m.split("test"):  # the oracle is the plain caption the paraphrase was made from: one of the image's own
        (plain,) = r.texts("paraphrase_oracle")
        assert plain in r.captions and len(tokenize_words(plain)) < len(tokenize_words(r.texts("paraphrase")[0])) + 1
    train_words = {
        w for r in m.split("train") for t in r.captions + [x for v in r.registers.values() for x in v] for w in tokenize_words(t)
    }
    ours = P.table_words()
    for q in queries:  # every query holds at least one new synonym (two when the caption has two attribute words), none seen in training
        new = [w for w in tokenize_words(q) if w in ours]
        assert new and not set(new) & train_words
    P.add_paraphrase_register(d)
    assert [q for r in load_manifest(d).records if r.split != "train" for q in r.texts("paraphrase")] == queries
    with pytest.raises(RAQOError, match="is not an embedded benchmark"):
        P.add_paraphrase_register(tmp_path)


def test_register_words_are_unknown_to_the_shipped_lookup_lexicon():
    """MPADE's mined lexicon (the shipped look-up's preferences.json) never names or produces a paraphrase word."""
    import json

    from raqo_core.lookup import embedded_lookup_dir

    rows = json.loads((embedded_lookup_dir() / "preferences.json").read_text())["concepts"]
    mined = {w for r in rows for t in [r["concept"], *(x for x, _ in r["replacements"])] for w in tokenize_words(t)}
    assert mined and not mined & P.table_words()
