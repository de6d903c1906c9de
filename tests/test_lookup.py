"""The retriever look-up (raqo_core.lookup) and its rewriter wrapper: vocabulary, sources, decisions, bad input."""

from __future__ import annotations

import json

import pytest

from raqo_core.errors import RAQOError
from raqo_core.lookup import Candidate, ConceptLookup, LexiconSource, LookupConfig, RetrieverVocabulary
from raqo_core.rewriter.base import QueryRewriter
from raqo_core.rewriter.result import RewriteResult

CAPTIONS = [
    "a large red circle left of a small blue square",
    "a small red square above a large blue circle",
    "a large blue circle below a small red triangle",
    "a small blue triangle right of a large red circle",
] * 5 + ["a large crimson circle left of a small blue square"]


class Fixed:
    """A look-up source with a fixed table (a unit-test stand-in for WordNet)."""

    name = "fixed"
    status = "ok"
    available = True

    def __init__(self, table):
        self.table = table

    def phrases(self):
        return []

    def candidates(self, phrase):
        return [Candidate(t, d, "synonym") for t, d in self.table.get(phrase, [])]


def vocab():
    return RetrieverVocabulary.from_captions(CAPTIONS, min_count=1)


def lexicon_file(tmp_path, rows):
    p = tmp_path / "preferences.json"
    p.write_text(json.dumps({"retriever": "x", "concepts": rows}))
    return p


def row(concept, support, *repl):
    return {"concept": concept, "named": support, "with_accepted_rewrite": support, "replacements": [list(r) for r in repl]}


def test_vocabulary_counts_strength_fit_and_round_trip(tmp_path):
    v = vocab()
    assert v.count("red") == 20 and v.count("crimson") == 1 and v.count("vermilion") == 0
    assert v.is_strong("red") and v.is_weak("crimson") and v.is_weak("vermilion") and not v.is_weak("a")
    assert v.is_strong("left of") and not v.is_strong("crimson circle")
    # 'red' follows 'large'/'small' and precedes a shape; 'circle' never follows 'large' directly
    assert v.fit(["red"], "large", "circle") > 0.3
    assert v.fit(["circle"], "large", "circle") == 0.0
    assert v.slot_similarity("red", "blue") > v.slot_similarity("red", "circle")
    back = RetrieverVocabulary.load(v.save(tmp_path / "v.json"))
    assert (
        back.counts == v.counts
        and back.strong_count == v.strong_count
        and back.fit(["red"], "large", "circle") == v.fit(["red"], "large", "circle")
    )


def test_vocabulary_bad_files_name_the_problem(tmp_path, monkeypatch):
    from raqo_core.lookup import vocabulary as V

    with pytest.raises(RAQOError, match="does not exist"):
        RetrieverVocabulary.load(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(RAQOError, match="is not valid JSON"):
        RetrieverVocabulary.load(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text(json.dumps({"format": "x", "counts": {}}))
    with pytest.raises(RAQOError, match="expected format 'raqo-retriever-vocabulary/1', got 'x'"):
        RetrieverVocabulary.load(tmp_path / "other.json")
    (tmp_path / "empty.json").write_text(json.dumps({"format": V.FORMAT, "counts": {}}))
    with pytest.raises(RAQOError, match="'counts' must be a non-empty object"):
        RetrieverVocabulary.load(tmp_path / "empty.json")
    path = vocab().save(tmp_path / "big.json")
    monkeypatch.setattr(V, "MAX_FILE_BYTES", 100)
    with pytest.raises(RAQOError, match="over the 0 MB limit"):
        RetrieverVocabulary.load(path)
    with pytest.raises(RAQOError, match="no word occurs 3\\+ times"):
        RetrieverVocabulary.from_captions(["one caption"], min_count=3)
    with pytest.raises(RAQOError, match="non-negative integers"):
        RetrieverVocabulary({"red": -1})


def test_lexicon_entries_and_unusable_files(tmp_path, monkeypatch):
    from raqo_core.lookup import sources as S

    p = lexicon_file(
        tmp_path,
        [
            row("crimson", 10, ("red", 8), ("(kept)", 2)),
            row("i think", 6, ("(deleted)", 5)),
            row("orb", 10, ("(kept)", 9)),  # mostly kept: no entry
            row("jet", 10, ("black", 3), ("dark", 3)),  # no replacement holds 40 %
            row("lemon", 1, ("yellow", 1)),  # too little support
            {"concept": "broken"},  # a malformed row loses itself only
        ],
    )
    lex = LexiconSource(p)
    assert lex.entries == {"crimson": "red", "i think": ""} and lex.status == "ok: 2 entries"
    assert lex.phrases() == ["i think"]
    assert (
        LexiconSource(tmp_path / "none.json").status.startswith("unavailable: ")
        and "does not exist" in LexiconSource(tmp_path / "none.json").status
    )
    (tmp_path / "empty.json").write_text(json.dumps({"concepts": []}))
    assert "has no usable entries" in LexiconSource(tmp_path / "empty.json").status
    (tmp_path / "junk.json").write_text("[1, 2")
    assert "is not an MPADE preferences.json" in LexiconSource(tmp_path / "junk.json").status
    monkeypatch.setattr(S, "MAX_LEXICON_BYTES", 10)
    huge = LexiconSource(p)
    assert not huge.available and "over the 0 MB limit" in huge.status


def test_lookup_replaces_weak_words_only_when_they_fit():
    source = Fixed(
        {
            "vermilion": [("red", 1)],
            "cerulean": [("circle", 0), ("blue", 1)],  # the nearer candidate is a shape: it does not fit a colour's slot
            "red": [("blue", 0)],  # a source that would change an object the retriever knows: never asked
            "zorp": [("left", 0)],
        }
    )
    lk = ConceptLookup(vocab(), [source])
    text, hints = lk.apply("A large vermilion circle, left of a small cerulean square zorp!")
    assert text == "A large red circle, left of a small blue square zorp!"
    by = {h.word: h for h in hints}
    assert by["vermilion"].replacement == "red" and by["vermilion"].source == "fixed" and by["vermilion"].fit > 0
    assert by["cerulean"].replacement == "blue"  # 'circle' was rejected by the neighbour check
    assert by["zorp"].replacement is None and "fits between 'square' and '</s>'" in by["zorp"].reason
    assert "red" not in by and "large" not in by  # strong words are not looked up
    # a word with no candidate at all: the model's text stands, with the reason
    text, hints = lk.apply("a large blorp circle")
    assert text == "a large blorp circle" and hints[0].replacement is None and hints[0].reason.startswith("no strong neighbour")
    assert lk.apply("") == ("", []) and lk.apply("!!") == ("!!", [])
    with pytest.raises(RAQOError, match="takes a string, got int"):
        lk.apply(3)


def test_lookup_chains_through_the_lexicon_and_applies_phrases_and_deletions(tmp_path):
    p = lexicon_file(
        tmp_path, [row("crimson", 5, ("red", 5)), row("i think", 4, ("(deleted)", 4)), row("to the west of", 4, ("left of", 4))]
    )
    lk = ConceptLookup(vocab(), [LexiconSource(p), Fixed({"scarlet": [("crimson", 0)]})])
    text, hints = lk.apply("a large scarlet circle to the west of a small blue square, i think")
    assert text == "a large red circle left of a small blue square,"
    by = {h.word: h for h in hints}
    assert by["scarlet"].source == "fixed+lexicon" and by["scarlet"].replacement == "red"
    assert by["to the west of"].replacement == "left of" and by["i think"].replacement == ""
    assert (
        ConceptLookup(vocab(), [LexiconSource(p)], LookupConfig(delete_unknown=False)).apply("a red circle, i think")[0]
        == "a red circle, i think"
    )


def test_lookup_limits_scope_and_falls_back_without_sources(tmp_path):
    source = Fixed({"vermilion": [("red", 0)], "cerulean": [("blue", 0)]})
    lk = ConceptLookup(vocab(), [source], LookupConfig(max_hints=1))
    text, hints = lk.apply("a large vermilion circle left of a small cerulean square")
    assert text == "a large red circle left of a small cerulean square" and "over max_hints=1" in hints[1].reason
    only = ConceptLookup(vocab(), [source]).apply("a large vermilion circle left of a small cerulean square", concepts=["cerulean"])
    assert only[0] == "a large vermilion circle left of a small blue square"
    none = ConceptLookup(vocab(), [LexiconSource(tmp_path / "missing.json")])
    text, hints = none.apply("a vermilion circle")
    assert text == "a vermilion circle" and hints[0].replacement is None and "no look-up source is available" in hints[0].reason
    with pytest.raises(RAQOError, match="min_fit must be in \\[0, 1\\], got 2"):
        LookupConfig(min_fit=2)
    with pytest.raises(RAQOError, match="max_depth must be 0, 1 or 2, got 5"):
        LookupConfig(max_depth=5)
    with pytest.raises(RAQOError, match="look-up folder '/no/such' does not exist"):
        ConceptLookup.from_folder("/no/such")


def test_drop_unresolved_removes_only_unknown_words_no_source_resolves(tmp_path):
    source = Fixed({"vermilion": [("red", 0)], "crimson": [("zzz", 0)]})
    on = LookupConfig(drop_unresolved=True, lexicon_weak=False)
    text, hints = ConceptLookup(vocab(), [source], on).apply("got a large vermilion circle zorp left of a small blue square")
    assert text == "a large red circle left of a small blue square"
    by = {h.word: h for h in hints}
    assert by["got"].replacement == "" and by["got"].source == "vocabulary"
    assert by["zorp"].reason == "the retriever never saw it and no strong neighbour: dropped"
    # off (the default), the same words stay as written
    assert ConceptLookup(vocab(), [source]).apply("got a large vermilion circle zorp")[0] == "got a large red circle zorp"
    # a word the retriever saw (crimson, weak) is never dropped, even when only_unknown=False looks it up and fails
    weak = ConceptLookup(vocab(), [source], LookupConfig(drop_unresolved=True, only_unknown=False))
    assert weak.apply("a large crimson circle")[0] == "a large crimson circle"
    # no usable source: nothing is dropped (the look-up falls back to the text as written)
    none = ConceptLookup(vocab(), [LexiconSource(tmp_path / "missing.json")], on)
    assert none.apply("got a zorp circle")[0] == "got a zorp circle"
    # words over max_hints were never tried: not dropped
    capped = ConceptLookup(vocab(), [source], LookupConfig(drop_unresolved=True, max_hints=1))
    text, hints = capped.apply("a large vermilion circle left of a small zorp square")
    assert text == "a large red circle left of a small zorp square" and "over max_hints=1" in hints[1].reason
    # a text of unknown words only comes back whole, never empty
    assert ConceptLookup(vocab(), [source], on).apply("zorp blorp")[0] == "zorp blorp"
    assert "|r]" in ConceptLookup(vocab(), [source], on).fingerprint


def test_gloss_source_reads_wordnet_definitions_sense_by_sense():
    """Real WordNet: a definition's content words, by sense rank; the look-up's fit picks the word that fits."""
    from raqo_core.lookup.sources import GlossSource

    g = GlossSource()
    if not g.available:
        pytest.skip(f"WordNet not installed: {g.status}")
    cands = g.candidates("amethyst")
    assert cands[0].relation == "gloss" and cands[0].depth == 0
    words = [c.text for c in cands]
    assert "purple" in words and "a" not in words and "amethyst" not in words  # stopwords and the word itself are skipped
    assert [c.depth for c in cands] == sorted(c.depth for c in cands)
    assert g.candidates("") == [] and g.candidates("zorpblorp") == []
    # the definition's words the retriever knows and that fit the slot: 'purple' between 'large' and 'circle'
    v = RetrieverVocabulary.from_captions(CAPTIONS + ["a large purple circle left of a small blue square"] * 10, min_count=1)
    text, hints = ConceptLookup(v, [g]).apply("a large amethyst circle")
    assert text == "a large purple circle" and hints[0].source == "gloss" and "fits between 'large' and 'circle'" in hints[0].reason
    # without 'purple' in the vocabulary, nothing in the definition is a word the retriever knows: left as written
    assert ConceptLookup(vocab(), [g]).apply("a large amethyst circle")[0] == "a large amethyst circle"
    broken = GlossSource.__new__(GlossSource)
    broken._wn, broken._cache, broken.status = None, {}, "unavailable: test"
    assert not broken.available and broken.candidates("amethyst") == []


class Canned(QueryRewriter):
    """Returns prepared results (a unit-test stand-in for a model)."""

    def __init__(self, results):
        self.results = results

    @property
    def fingerprint(self):
        return "canned"

    def rewrite_batch(self, queries, batch_size=None):
        return [self.results[q] for q in queries]


def test_lookup_rewriter_never_touches_failures_and_records_hints(tmp_path):
    from raqo_core.rewriter.lookup import LookupRewriter

    q = "a large vermilion circle"
    results = {
        "ok": RewriteResult("ok", q, ["vermilion"], True, "rewritten", 5.0),
        "none": RewriteResult("none", q, [], False, "no challenging concepts", 5.0),
        "late": RewriteResult.fallback("late", "timeout"),
        "cut": RewriteResult.fallback("cut", "truncated: the answer hit max_new_tokens=64 before it ended"),
        "err": RewriteResult.fallback("err", "error: RuntimeError: boom"),
    }
    results["none"] = RewriteResult(q, q, [], False, "no challenging concepts", 5.0)
    lk = ConceptLookup(vocab(), [Fixed({"vermilion": [("red", 0)]})])
    rw = LookupRewriter(Canned({**results, q: results["none"]}), lk, order="after")
    ok, none, late, cut, err = rw.rewrite_batch(["ok", q, "late", "cut", "err"])
    assert (ok.rewritten_query, ok.reason, ok.applied) == ("a large red circle", "rewritten+lookup", True)
    assert ok.hints[0]["word"] == "vermilion" and ok.hints[0]["replacement"] == "red" and ok.latency_ms >= 5.0
    assert (none.rewritten_query, none.reason, none.applied) == ("a large red circle", "lookup", True)
    for r in (late, cut, err):  # the user's query, unchanged and un-looked-up
        assert r.rewritten_query == r.original_query and not r.applied and r.hints == []
    assert "canned|lookup[fixed" in rw.fingerprint
    scoped = LookupRewriter(Canned(results), lk, scope="concepts", order="after").rewrite("ok")
    assert scoped.rewritten_query == "a large red circle"

    class Broken:
        fingerprint = "broken"

        def apply(self, text, concepts=None):
            raise ValueError("bad table")

    from raqo_core.rewriter import lookup as L

    rw = LookupRewriter(Canned(results), lk, order="after")
    rw.lookup = Broken()
    r = rw.rewrite("ok")
    assert r.rewritten_query == q and r.reason == "rewritten" and "look-up failed: bad table" in r.hints[0]["reason"]
    with pytest.raises(RAQOError, match="lookup scope must be one of \\('all', 'concepts'\\), got 'some'"):
        L.LookupRewriter(Canned(results), lk, scope="some")
    with pytest.raises(RAQOError, match="lookup must be 'embedded', a look-up folder or a ConceptLookup, got 3"):
        L.resolve_lookup(3)


def test_specs_and_config_turn_the_lookup_on():
    from raqo_core.rewriter.factory import RewriterSpec, build_rewriter, config_with
    from raqo_core.rewriter.lookup import LookupRewriter

    s = RewriterSpec.parse("auto@direct+lookup#llamacpp")
    assert (s.adapter, s.mode, s.backend, s.lookup) == ("auto", "direct", "llamacpp", "after")
    assert s.config().lookup == "embedded" and s.describe()["lookup"] == "embedded (after)"
    first = RewriterSpec.parse("auto@recot+lookup:before")
    assert (first.mode, first.lookup, first.config().lookup_order) == ("recot", "before", "before")
    assert RewriterSpec.parse("runs/qre+pro@recot").lookup is None and RewriterSpec.parse("runs/qre+pro").adapter == "runs/qre+pro"
    for bad in ("wordnet+lookup", "none+lookup"):
        with pytest.raises(RAQOError, match="only a RAQO adapter takes @MODE, #BACKEND or \\+lookup"):
            RewriterSpec.parse(bad)
    with pytest.raises(RAQOError, match="names no adapter before '@'"):
        RewriterSpec.parse("@direct")
    assert isinstance(build_rewriter("wordnet", lookup="embedded"), LookupRewriter)
    with pytest.raises(RAQOError, match="lookup_scope must be 'all' or 'concepts', got 'x'"):
        config_with(lookup_scope="x").validate()
    with pytest.raises(RAQOError, match="lookup_order must be 'after' or 'before', got 'during'"):
        config_with(lookup_order="during").validate()


def test_lookup_before_the_rewrite_feeds_the_looked_up_query_and_keeps_the_users():
    from raqo_core.rewriter.lookup import LookupRewriter

    lk = ConceptLookup(vocab(), [Fixed({"vermilion": [("red", 0)]})])
    seen = []

    class Echo(QueryRewriter):
        fingerprint = "echo"

        def rewrite_batch(self, queries, batch_size=None):
            seen.extend(queries)
            out = {
                "a large red circle": RewriteResult("a large red circle", "a large red circle", [], False, "no challenging concepts", 1.0),
                "a large red crimson circle": RewriteResult(
                    "a large red crimson circle", "a large red circle", ["crimson"], True, "rewritten", 1.0
                ),
                "a large red zorp": RewriteResult.fallback("a large red zorp", "timeout"),
                "a small red circle": RewriteResult.fallback("a small red circle", "unparseable output: no Rewrite line"),
            }
            return [out[q] for q in queries]

    rw = LookupRewriter(Echo(), lk, order="before")
    a, b, c, d = rw.rewrite_batch(
        ["a large vermilion circle", "a large vermilion crimson circle", "a large vermilion zorp", "a small vermilion circle"]
    )
    assert seen == ["a large red circle", "a large red crimson circle", "a large red zorp", "a small red circle"]
    # the look-up's query stands, and the model's unparseable answer stays in the reason (raqo compare counts it)
    assert (d.rewritten_query, d.applied, d.reason) == ("a small red circle", True, "lookup (model: unparseable output: no Rewrite line)")
    assert (a.original_query, a.rewritten_query, a.applied, a.reason) == ("a large vermilion circle", "a large red circle", True, "lookup")
    assert (b.rewritten_query, b.reason, b.concepts) == ("a large red circle", "lookup+rewritten", ["crimson"])
    assert (c.original_query, c.rewritten_query, c.applied, c.reason) == (
        "a large vermilion zorp",
        "a large vermilion zorp",
        False,
        "timeout",
    )
    assert a.hints[0]["replacement"] == "red" and "|before" in rw.fingerprint
    with pytest.raises(RAQOError, match="lookup order must be one of \\('after', 'before'\\), got 'x'"):
        LookupRewriter(Echo(), lk, order="x")


def test_shipped_embedded_lookup_maps_held_out_words_with_wordnet():
    """The shipped look-up (vocabulary + MPADE lexicon) with real WordNet, as a user meets it."""
    from raqo_core.rewriter.factory import build_rewriter

    lk = ConceptLookup.embedded()
    assert lk.status["lexicon"].startswith("ok:") and lk.status["wordnet"] == "ok"
    rw = build_rewriter("lookup")
    r = rw.rewrite("a large vermilion circle left of a small outline square")
    assert r.applied and r.reason == "lookup" and r.rewritten_query == "a large red circle left of a small outline square"
    assert r.hints[0]["source"].startswith("wordnet") and r.hints[0]["replacement"] == "red"
    plain = rw.rewrite("a large red circle left of a small blue square")
    assert plain.rewritten_query == plain.original_query and not plain.applied
    assert rw.rewrite("   ").reason == "empty query"


def test_haystack_and_llamaindex_carry_the_lookup_and_its_hints():
    from haystack_integrations.components.rewriters.raqo import RAQOQueryRewriter
    from raqo_llamaindex import RAQOQueryTransform

    node = RAQOQueryRewriter(rewriter="lookup", lookup="embedded")
    again = RAQOQueryRewriter.from_dict(node.to_dict())
    assert again.config.lookup == "embedded"
    again.warm_up()
    out = again.run(query="a small canary star above a large outline circle")
    assert out["query"] == "a small yellow star above a large outline circle" and out["meta"]["reason"] == "lookup"
    assert out["meta"]["hints"][0]["word"] == "canary" and out["meta"]["hints"][0]["replacement"] == "yellow"
    meta: dict = {}
    bundle = RAQOQueryTransform("lookup").run("a small canary star", metadata=meta)
    assert bundle.query_str == "a small canary star" and bundle.custom_embedding_strs == ["a small yellow star"]
    assert meta["raqo"]["hints"][0]["replacement"] == "yellow"


def test_cli_builds_and_shows_a_lookup(tiny_bench, tmp_path, capsys):
    from raqo_core.cli import main

    out = tmp_path / "lk"
    assert main(["lookup", "build", "--data", str(tiny_bench), "--out", str(out), "--min-count", "1"]) == 0
    said = capsys.readouterr().out
    assert "lexicon: unavailable: " in said and "wordnet: ok" in said and (out / "vocabulary.json").is_file()
    assert main(["lookup", "show", "--lookup", str(out), "--json", "a large vermilion circle"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["queries"][0]["hints"][0]["word"] == "vermilion" and shown["sources"]["wordnet"] == "ok"
    assert main(["lookup", "build", "--data", str(tiny_bench), "--out", str(out), "--mpade", str(tmp_path)]) == 2
    assert "preferences.json' does not exist: run `raqo preferences" in capsys.readouterr().err


def test_a_new_lookup_source_is_one_registration(tmp_path):
    from raqo_core.lookup.sources import SOURCE_REGISTRY

    vocab().save(tmp_path / "vocabulary.json")
    SOURCE_REGISTRY.register("fixed_test", lambda folder, config: Fixed({"vermilion": [("red", 0)]}))
    try:
        lk = ConceptLookup.from_folder(tmp_path, sources=["fixed_test"])
        assert lk.apply("a large vermilion circle")[0] == "a large red circle" and lk.status == {"fixed": "ok"}
    finally:
        SOURCE_REGISTRY._entries.pop("fixed_test")
    with pytest.raises(
        RAQOError, match="unknown look-up source 'thesaurus'; expected one of \\('lexicon', 'wordnet', 'gloss', 'visual_gloss'\\)"
    ):
        ConceptLookup.from_folder(tmp_path, sources=["thesaurus"])


def _adapter(tmp_path, meta):
    """An adapter folder as resolution sees it (peft config + raqo_adapter.json); no weights are loaded."""
    d = tmp_path / "adapter"
    d.mkdir(exist_ok=True)
    (d / "adapter_config.json").write_text("{}")
    (d / "raqo_adapter.json").write_text(json.dumps(meta))
    return d


def test_lookup_auto_is_the_one_the_adapter_names(tmp_path):
    from raqo_core.rewriter.factory import RewriterSpec, build_rewriter, config_with
    from raqo_core.rewriter.lookup import LookupRewriter, effective_lookup

    shipped = config_with()  # the defaults: the shipped ReCoT adapter, lookup="auto"
    assert (shipped.lookup, shipped.lookup_order) == ("auto", "before")
    assert effective_lookup(shipped) == "embedded" and effective_lookup(config_with(mode="direct")) == "embedded"
    assert effective_lookup(shipped, "wordnet") is None  # a baseline has no adapter to name one
    for off in (None, "none", " none "):
        assert effective_lookup(config_with(lookup=off)) is None
    assert effective_lookup(config_with(adapter=None)) is None and effective_lookup(config_with(model="some/hub-model")) is None
    own = _adapter(tmp_path, {"mode": "recot", "lookup": "lookup"})
    with pytest.raises(RAQOError, match="names the look-up folder 'lookup', but .* does not exist"):
        effective_lookup(config_with(adapter=str(own)))
    (own / "lookup").mkdir()
    assert effective_lookup(config_with(adapter=str(own))) == str(own / "lookup")
    _adapter(tmp_path, {"mode": "recot"})
    assert effective_lookup(config_with(adapter=str(own))) is None  # an adapter that names none: the rewriter alone
    _adapter(tmp_path, {"lookup": 3})
    with pytest.raises(RAQOError, match="'lookup' must be 'embedded' or a folder name, got 3"):
        effective_lookup(config_with(adapter=str(own)))

    rw = build_rewriter("raqo")  # not loaded: nothing is generated here
    assert isinstance(rw, LookupRewriter) and rw.order == "before" and rw.config.adapter.endswith("embedded_adapter")  # delegates
    assert not isinstance(build_rewriter("raqo", lookup="none"), LookupRewriter)
    assert not isinstance(build_rewriter("wordnet"), LookupRewriter)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = rw.nope
    # A spec says exactly what runs: no suffix is the rewriter alone; +lookup takes the base's explicit look-up.
    assert RewriterSpec.parse("auto").config(shipped).lookup is None
    assert RewriterSpec.parse("wordnet").config(config_with(lookup="embedded")).lookup is None
    base = config_with(lookup=str(tmp_path / "mine"))
    assert RewriterSpec.parse("auto+lookup").config(base).lookup == str(tmp_path / "mine")
    assert RewriterSpec.parse("auto+lookup").describe(base)["lookup"] == f"{tmp_path / 'mine'} (after)"
    assert RewriterSpec.parse("auto+lookup:before").config(shipped).lookup == "embedded"
    with pytest.raises(RAQOError, match="lookup must be 'auto', 'embedded', a look-up folder, 'none' or None, got ' '"):
        config_with(lookup=" ").validate()


def test_build_lookup_folder_writes_vocabulary_and_lexicon(tiny_bench, tmp_path):
    from raqo_core.data.manifest import load_manifest
    from raqo_core.lookup.build import build_lookup_folder

    m = load_manifest(tiny_bench)
    rows = [{"concept": "vermilion", "named": 4, "with_accepted_rewrite": 4, "replacements": [["red", 4]], "mean_rank_gain": None}]
    out = build_lookup_folder(m, tmp_path / "lk", lexicon={"retriever": "embedded", "concepts": rows}, min_count=1)
    lk = ConceptLookup.from_folder(out)
    assert lk.status["lexicon"].startswith("ok") and len(lk.vocabulary) > 10
    assert lk.apply("a large vermilion circle")[0] == "a large red circle"
    build_lookup_folder(m, out, min_count=1)  # rebuilt without a lexicon: the old one is gone, WordNet remains
    assert not (out / "preferences.json").exists() and ConceptLookup.from_folder(out).status["lexicon"].startswith("unavailable")
    with pytest.raises(RAQOError, match="not both"):
        build_lookup_folder(m, out, mpade=tmp_path, lexicon={"concepts": []})
    with pytest.raises(RAQOError, match="min_count must be >= 1, got 0"):
        build_lookup_folder(m, out, min_count=0)


def test_the_offline_agent_uses_the_vocabulary_rule():
    from collections import Counter

    import numpy as np

    from raqo_core.mpade.agents import OfflineAgent
    from raqo_core.text import caption_vocabulary

    class Texts:
        def encode_texts(self, texts, batch_size=64):
            return np.ones((len(texts), 4), dtype=np.float32) / 2

    counts = caption_vocabulary(CAPTIONS, min_count=1)
    agent = OfflineAgent(Texts(), counts, captions=CAPTIONS, use_wordnet=False)
    known = RetrieverVocabulary.from_captions(CAPTIONS, min_count=1)
    assert agent.strong_count == known.strong_count and agent.known.strong_words() == known.strong_words()
    words = ["crimson", "red", "orb", "a", "left"]
    assert [agent.is_weak(w) for w in words] == [known.is_weak(w) for w in words] == [True, False, True, False, False]
    assert agent.slot_similarity("crimson", "red") == pytest.approx(known.slot_similarity("crimson", "red"))
    assert OfflineAgent(Texts(), Counter(red=5, blue=5)).slot_similarity("red", "left") == 1.0  # no captions: any slot
