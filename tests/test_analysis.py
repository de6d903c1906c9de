"""Smoke tests of the analyses behind results/ (benchmarks.analysis): they import, parse their arguments and
compute their tables from small inputs of the shapes they read."""

from __future__ import annotations

import importlib
import json
import pkgutil

import numpy as np
import pytest

import benchmarks.analysis as analysis

MODULES = sorted(m.name for m in pkgutil.iter_modules(analysis.__path__))


@pytest.mark.parametrize("name", MODULES)
def test_every_analysis_imports_and_documents_its_command(name):
    mod = importlib.import_module(f"benchmarks.analysis.{name}")
    assert mod.__doc__ and (name == "rewrite_cache" or "python -m benchmarks.analysis." + name in mod.__doc__)
    if name not in ("rewrite_cache", "forbid_named"):
        with pytest.raises(SystemExit) as exit_:
            mod.main(["--help"])
        assert exit_.value.code == 0


def test_importing_an_analysis_changes_nothing():
    """forbid_named swaps the grounding processor only while it runs: an import must leave the rewriter alone
    (it once did not, and every later transformers rewrite in the process was decoded with the swap)."""
    from raqo_core.rewriter import grounding

    real = grounding.GroundedConcepts
    from benchmarks.analysis import forbid_named

    assert grounding.GroundedConcepts is real and forbid_named.ForbidNamed is not real


def test_grounding_fidelity_counts_concepts_outside_the_query(tmp_path, capsys):
    from benchmarks.analysis import grounding_fidelity

    def cache(path, concepts):
        rows = [{"q": "a crimson orb", "r": {"concepts": concepts, "rewritten_query": "a red circle"}}]
        path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
        return str(path)

    grounding_fidelity.main([cache(tmp_path / "free.jsonl", ["scarlet"]), cache(tmp_path / "g.jsonl", ["crimson"])])
    out = capsys.readouterr().out
    assert "queries rewritten both ways: 1" in out
    assert "ungrounded: 1 queries with concepts; 1 with a concept line that does not quote" in out
    assert "grounded: 1 queries with concepts; 0 with a concept line" in out and "changed by grounding: 0 of 1" in out


def test_pro_seeds_pool_pairs_each_chain_with_its_own_reference(tmp_path, capsys):
    from benchmarks.analysis import pro_seeds_pool

    rng = np.random.default_rng(0)
    ranks = {}
    for s in range(2):
        base = rng.integers(0, 20, 200)
        ranks[f"no_pro_seed{s}"] = base.tolist()
        ranks[f"full_seed{s}"] = np.where(rng.random(200) < 0.1, 0, base).tolist()  # PRO fixes some queries
    recall = {n: {f"R@{k}": float((np.asarray(r) < k).mean() * 100) for k in (1, 5, 10)} for n, r in ranks.items()}
    p = tmp_path / "six.json"
    p.write_text(json.dumps({"ranks": ranks, "recall": recall, "n_queries": 200}))
    pro_seeds_pool.main(["--json", str(p)])
    out = capsys.readouterr().out
    assert "2 chains, 200 test user queries" in out and "| seed 0 (CPU) |" in out
    pooled = next(line for line in out.splitlines() if line.startswith("| pooled"))
    assert pooled.count("+") >= 3  # every pooled Δ is a gain here


def test_recot_splice_keeps_only_edits_that_touch_named_concepts():
    from benchmarks.analysis.recot_vs_direct import splice

    q, rw = "a crimson orb beside a cobalt tile", "a red circle beside a blue square"
    assert splice(q, rw, ["crimson"]) == "a red circle beside a cobalt tile"  # the edit outside "crimson" is undone
    assert splice(q, rw, ["crimson", "cobalt tile"]) == rw
    assert splice("a crimson orb", "a red circle", []) == "a crimson orb"


def test_pair_runs_pairs_rows_of_separate_compares_on_the_same_queries(tmp_path, capsys):
    from benchmarks.analysis import pair_runs

    def run(name, ranks):
        p = tmp_path / name
        p.write_text(json.dumps({"split": "test", "register": "user", "n_queries": 4, "ranks": ranks}))
        return p

    na = [3, 0, 2, 5]
    a = run("test_user.small.json", {"NA": na, "RAQO": [0, 0, 2, 5]})
    b = run("test_user.big.json", {"NA": na, "RAQO": [0, 0, 0, 0]})
    pair_runs.main([str(a), str(b), "--out", str(tmp_path / "out")])
    got = json.loads((tmp_path / "out.json").read_text())["user"]["rows"]
    assert list(got) == ["NA", "small:RAQO", "big:RAQO"]
    assert got["small:RAQO"]["recall"]["R@1"] == 50.0 and got["big:RAQO"]["recall"]["R@1"] == 100.0
    assert got["big:RAQO"]["vs_ref"]["R@1"]["delta"] == 75.0 and got["big:RAQO"]["vs_ref"]["R@1"]["a_only"] == 3
    assert "| user (4) | big:RAQO | 100.0 |" in capsys.readouterr().out
    c = run("test_user.other.json", {"NA": [0, 0, 0, 0], "RAQO": [0, 0, 0, 0]})
    with pytest.raises(SystemExit, match="its 'NA' ranks differ"):
        pair_runs.main([str(a), str(c), "--out", str(tmp_path / "bad")])
