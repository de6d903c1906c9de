import pytest

from raqo_core.errors import RAQOError
from raqo_core.rewriter.baselines import LLMRewrite, WordNetExpansion
from raqo_core.rewriter.disk_cache import DiskCachedRewriter
from raqo_core.rewriter.factory import build_rewriter
from raqo_core.rewriter.guard import IntentGuard, TextSimilarity


def test_wordnet_expansion_enriches_rare_words():
    rw = WordNetExpansion()
    r = rw.rewrite("a crimson orb left of a cube")
    assert r.applied and r.rewritten_query.startswith("a crimson orb left of a cube (")
    assert "crimson red" in r.rewritten_query and "crimson" in r.concepts
    assert rw.rewrite("").reason == "empty query"
    assert WordNetExpansion(style="definition").rewrite("a crimson orb").rewritten_query.count(":") >= 1
    with pytest.raises(RAQOError, match="unknown WordNetExpansion style 'gloss'"):
        WordNetExpansion(style="gloss")


def test_wordnet_missing_gives_clear_error(monkeypatch, tmp_path):
    from raqo_core import lexicon

    lexicon.wordnet.cache_clear()
    monkeypatch.setattr(lexicon, "DEBIAN_WORDNET", tmp_path / "none")
    monkeypatch.setenv("NLTK_DATA", str(tmp_path))
    monkeypatch.setenv("RAQO_CACHE", str(tmp_path / "cache"))
    try:
        with pytest.raises(RAQOError, match="WordNet is not available: install Debian's 'wordnet-base'"):
            WordNetExpansion().load()
    finally:
        lexicon.wordnet.cache_clear()


def test_disk_cache_survives_restart_and_torn_lines(tmp_path):
    calls = []

    class Counting(WordNetExpansion):
        def rewrite_batch(self, queries, batch_size=None):
            calls.append(list(queries))
            return super().rewrite_batch(queries, batch_size)

    a = DiskCachedRewriter(Counting(), tmp_path)
    first = a.rewrite_batch(["a crimson orb", "a crimson orb", "a cube"])
    assert calls == [["a crimson orb", "a cube"]]
    with a.path.open("a") as fh:
        fh.write('{"q": "torn')  # a crash mid-line
    b = DiskCachedRewriter(Counting(), tmp_path)
    assert b.rewrite_batch(["a cube", "a crimson orb"]) == [first[2], first[0]]
    assert len(calls) == 1  # nothing recomputed
    b.rewrite_batch(["a cobalt tile"])  # appended after the torn line: its own line, read back on restart
    assert DiskCachedRewriter(Counting(), tmp_path).load().rewrite_batch(["a cobalt tile"]) and len(calls) == 2


def test_disk_caches_loaded_together_share_what_either_writes_later(tmp_path):
    """Two rows of one `raqo compare` (e.g. ADAPTER and ADAPTER+lookup) load their caches before either rewrites:
    the second must read what the first appended, not generate it again."""
    calls = []

    class Counting(WordNetExpansion):
        def rewrite_batch(self, queries, batch_size=None):
            calls.append(list(queries))
            return super().rewrite_batch(queries, batch_size)

    a, b = DiskCachedRewriter(Counting(), tmp_path).load(), DiskCachedRewriter(Counting(), tmp_path).load()
    first = a.rewrite_batch(["a crimson orb", "a cube"])
    assert b.rewrite_batch(["a cube", "a crimson orb"]) == [first[1], first[0]] and len(calls) == 1
    with a.path.open("a") as fh:
        fh.write('{"q": "half a li')  # a line another writer has not finished: skipped now, read once complete
    assert b.rewrite_batch(["a cobalt tile"]) and len(calls) == 2


def test_disk_cache_persists_each_chunk_so_a_stopped_run_resumes(tmp_path):
    calls = []

    class Failing(WordNetExpansion):
        def rewrite_batch(self, queries, batch_size=None):
            calls.append(list(queries))
            if len(calls) == 3:
                raise KeyboardInterrupt("stopped")
            return super().rewrite_batch(queries, batch_size)

    queries = [f"a crimson orb {i}" for i in range(10)]
    with pytest.raises(KeyboardInterrupt):
        DiskCachedRewriter(Failing(), tmp_path, chunk_size=4, progress=False).rewrite_batch(queries)
    assert [len(c) for c in calls] == [4, 4, 2]
    calls.clear()
    again = DiskCachedRewriter(Failing(), tmp_path, chunk_size=4, progress=False).rewrite_batch(queries)
    assert calls == [queries[8:]] and [r.original_query for r in again] == queries  # only the unfinished chunk ran


def test_factory_errors():
    with pytest.raises(RAQOError, match="unknown rewriter 'magic'"):
        build_rewriter("magic")
    with pytest.raises(RAQOError, match="takes no adapter"):
        build_rewriter("wordnet", adapter="x")
    assert isinstance(build_rewriter("llm-rewrite"), LLMRewrite)


@pytest.mark.slow
def test_minilm_guard_orders_paraphrase_above_unrelated():
    sim = TextSimilarity()
    s = sim.pairwise(
        ["a red circle left of a blue square"] * 2, ["a crimson circle to the left of a blue square", "a recipe for banana bread"]
    )
    assert s[0] > 0.7 and s[1] < 0.3
    guard = IntentGuard(0.5, sim)
    assert [ok for ok, _ in guard.check(["a red circle"] * 3, ["a red disk", "stock market crash", ""])] == [True, False, False]
    with pytest.raises(RAQOError, match=r"guard threshold must be a cosine similarity in \[-1, 1\], got 3"):
        IntentGuard(3)


def test_every_rewriter_takes_one_config_and_a_new_one_is_one_registration(monkeypatch):
    """No caller branches on the name: baselines read the RewriterConfig fields they use."""
    from raqo_core.rewriter import factory
    from raqo_core.rewriter.base import QueryRewriter
    from raqo_core.rewriter.disk_cache import DiskCachedRewriter
    from raqo_core.rewriter.factory import config_with, offline_config

    cfg = offline_config(model="embedded", device="cpu", mode="direct")
    lm = build_rewriter("llm-rewrite", cfg)
    assert isinstance(lm, LLMRewrite) and lm.timeout_s is None and lm.model == "embedded"
    assert isinstance(build_rewriter("wordnet", cfg, disk_cache=True), DiskCachedRewriter)
    with pytest.raises(RAQOError, match=r"unknown rewriter setting\(s\) \['temprature'\]"):
        config_with(temprature=0.1)

    class Echo(QueryRewriter):
        def __init__(self, config):
            self.config = config

    monkeypatch.setattr(factory, "REWRITER_REGISTRY", factory.REWRITER_REGISTRY.copy())
    factory.register_rewriter("echo", lambda config, api_key: Echo(config))
    rw = build_rewriter("echo", cfg, batch_size=3)
    assert isinstance(rw, Echo) and rw.config.batch_size == 3 and rw.config.mode == "direct"
    assert "echo" in factory.rewriter_names() and cfg.batch_size == 8  # the caller's config is untouched
