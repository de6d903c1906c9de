import json

import pytest

from raqo_core.cli import main
from raqo_core.data.manifest import load_manifest
from raqo_core.errors import RAQOError
from raqo_core.evaluation.compare import Row, compare_markdown, compare_rewriters, parse_row
from raqo_core.evaluation.evaluate import EvalSetup, evaluate


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("NA=none", ("NA", None, None, "recot", None)),
        ("full=runs/x/ccd+qre+pro/adapter", ("full", "raqo", "runs/x/ccd+qre+pro/adapter", "recot", None)),
        ("nr=runs/x/direct:qre+pro/adapter@direct", ("nr", "raqo", "runs/x/direct:qre+pro/adapter", "direct", None)),
        ("wn=wordnet", ("wn", "wordnet", None, "recot", None)),
        ("free=runs/x/adapter@ungrounded", ("free", "raqo", "runs/x/adapter", "ungrounded", None)),
        ("q8=embedded@direct#llamacpp:q8_0", ("q8", "raqo", "embedded", "direct", "llamacpp:q8_0")),
        ("srv=a+b/adapter#openai:http://127.0.0.1:8080/v1", ("srv", "raqo", "a+b/adapter", "recot", "openai:http://127.0.0.1:8080/v1")),
    ],
)
def test_parse_row(spec, expected):
    from raqo_core.rewriter.factory import RewriterSpec

    row = parse_row(spec)
    assert row == Row(expected[0], RewriterSpec(*expected[1:]))


def test_row_specs_turn_into_rewriter_configs():
    from raqo_core.rewriter.factory import RewriterSpec, config_with

    base = config_with(backend="llamacpp", timeout_s=None)
    free = RewriterSpec.parse("runs/x/adapter@ungrounded").config(base)
    assert (free.adapter, free.mode, free.grounded_concepts, free.backend, free.timeout_s) == (
        "runs/x/adapter",
        "recot",
        False,
        "llamacpp",
        None,
    )
    assert RewriterSpec.parse("a@direct#hf:int8").config(base).backend == "hf:int8"
    assert RewriterSpec.parse("wordnet").describe(base) == {"adapter": "wordnet", "mode": "recot", "backend": None}
    assert RewriterSpec.parse("auto@recot+lookup").describe(base)["lookup"] == "embedded (after)"
    assert RewriterSpec.parse("none").build(base) is None


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("just-a-path", "is not NAME=ADAPTER"),
        ("=x", "is not NAME=ADAPTER"),
        ("a=p@detect", "mode 'detect' is not one of \\('recot', 'ungrounded', 'direct'\\)"),
        ("a=p#vllm", "unknown rewriter backend 'vllm'"),
        ("a=wordnet#llamacpp", "only a RAQO adapter takes @MODE, #BACKEND or \\+lookup"),
        ("a=none@direct", "only a RAQO adapter takes @MODE, #BACKEND or \\+lookup"),
    ],
)
def test_parse_row_errors_name_the_row(spec, message):
    with pytest.raises(RAQOError, match=message):
        parse_row(spec)


def test_compare_pairs_each_row_with_the_reference(tiny_bench, random_retriever):
    m = load_manifest(tiny_bench)
    test = m.split("test")
    user_to_plain = dict(zip([t for r in test for t in r.texts("user")], [t for r in test for t in r.captions], strict=True))
    setup = EvalSetup(register="user", limit=120, progress=False)
    rows = {
        "NA": None,
        "oracle": lambda qs: [user_to_plain[q] for q in qs],
        "junk": lambda qs: ["zzz qqq"] * len(qs),  # one text for every query: it ranks the same image first
    }
    res = compare_rewriters(m, random_retriever, rows, setup, n_boot=300)
    assert res["reference"] == "NA" and res["n_queries"] == 120 and sorted(res["paired"]) == ["junk", "oracle"]
    na = evaluate(m, random_retriever, setup)
    assert res["recall"]["NA"] == pytest.approx(na["t2i"])
    assert res["ranks"]["NA"] == list(na["t2i_ranks"])  # per-query ranks are kept for pooled analyses
    for name, ranks in res["ranks"].items():
        assert len(ranks) == 120
        assert res["recall"][name]["R@5"] == pytest.approx(100 * sum(r < 5 for r in ranks) / 120)
    for name in ("junk", "oracle"):
        for k in ("R@1", "R@5", "R@10"):
            p = res["paired"][name][k]
            assert p["delta"] == pytest.approx(res["recall"][name][k] - res["recall"]["NA"][k])
            assert p["a_only"] - p["b_only"] == round(p["delta"] * 120 / 100)
            assert p["low"] <= p["delta"] <= p["high"]
    junk_hits = res["recall"]["junk"]["R@1"] * 120 / 100
    per_image = max(len(r.texts("user")) for r in test)
    assert junk_hits <= per_image  # one image is ranked first for every query: only its own queries hit
    md = compare_markdown(res)
    assert md.splitlines()[2].startswith("| NA | ") and "reference" in md.splitlines()[2]
    assert "| junk | " in md and "p=" in md
    with pytest.raises(RAQOError, match="at least two rows"):
        compare_rewriters(m, random_retriever, {"NA": None}, setup)


def test_compare_command_writes_json_and_markdown(tmp_path, capsys, tiny_bench, random_retriever, monkeypatch):
    monkeypatch.setenv("RAQO_CACHE", str(tmp_path / "cache"))
    random_retriever.save_local(tmp_path / "ckpt")
    base = ["compare", "--data", str(tiny_bench), "--retriever", str(tmp_path / "ckpt"), "--limit", "60", "--quiet"]
    rc = main([*base, "--row", "NA=none", "--row", "wn=wordnet", "--json", str(tmp_path / "c.json"), "--md", str(tmp_path / "c.md")])
    assert rc == 0
    res = json.loads((tmp_path / "c.json").read_text())
    assert res["rows"] == {
        "NA": {"adapter": None, "mode": "recot", "backend": None},
        "wn": {"adapter": "wordnet", "mode": "recot", "backend": None},
    }
    assert res["n_queries"] == 60 and set(res["paired"]["wn"]) == {"R@1", "R@5", "R@10"}
    assert (tmp_path / "c.md").read_text().startswith("| row | R@1 |")
    assert main([*base, "--row", "a=none", "--row", "a=wordnet"]) == 2
    assert "row names must be unique, got ['a', 'a']" in capsys.readouterr().err
    assert main([*base, "--row", "a=none", "--row", "b=p@fast"]) == 2
    assert "mode 'fast' is not one of ('recot', 'ungrounded', 'direct')" in capsys.readouterr().err


def test_outcomes_classify_every_reason_and_count_unparseable():
    from raqo_core.evaluation.compare import compare_markdown, outcome, outcome_counts
    from raqo_core.rewriter.result import RewriteResult

    reasons = [
        "rewritten",
        "rewritten+lookup",
        "lookup",
        "lookup (model: unparseable output: no Rewrite line)",
        "no challenging concepts",
        "unparseable output: malformed concept list 'x'",
        "guard: similarity 0.31 < 0.50",
        "timeout",
        "truncated: the answer hit max_new_tokens=64",
        "error: boom",
        "empty query",
    ]
    assert [outcome(r) for r in reasons] == [
        "rewritten",
        "looked up and rewritten",
        "looked up",
        "looked up",
        "no challenging concepts",
        "unparseable",
        "guard",
        "timeout or cut off",
        "timeout or cut off",
        "error",
        "other",
    ]
    got = outcome_counts([RewriteResult.fallback("q", r) for r in reasons])
    # the unparseable answer behind a look-up counts as the model's: 2 of 11
    assert got["n"] == 11 and got["counts"]["looked up"] == 2 and got["counts"]["looked up and rewritten"] == 1
    assert got["model_unparseable"] == 2 and got["unparseable_pct"] == round(100 * 2 / 11, 2)
    assert outcome_counts([]) == {"n": 0, "counts": dict.fromkeys(got["counts"], 0), "model_unparseable": 0, "unparseable_pct": 0.0}
    md = compare_markdown(
        {
            "recall": {"NA": {"R@1": 1.0}, "B": {"R@1": 2.0}},
            "paired": {"B": {"R@1": {"delta": 1.0, "low": 0.0, "high": 2.0, "a_only": 1, "b_only": 0, "p_value": 0.5}}},
            "outcomes": {"B": got},
        }
    )
    assert "| B | 11 | 1 | 1 | 2 | 1 | 1 | 1 | 2 | 1 | 1 | 18.2 |" in md
