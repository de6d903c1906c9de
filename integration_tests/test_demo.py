"""`raqo demo` (the README's main job) end to end on the shipped retriever and adapter, small limits."""

from __future__ import annotations

import json

import pytest

from raqo_core.demo import run_demo

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_demo_writes_tables_and_raqo_rows(tmp_path, capsys):
    res = run_demo(tmp_path, limit=200, rewrite_limit=16)
    for f in ("demo.json", "demo.md", "demo.png"):
        assert (tmp_path / f).stat().st_size > 0, f
    rows = res["rows"]
    oracle, na = rows["plain captions (oracle)"]["t2i"]["R@1"], rows["user queries (NA)"]["t2i"]["R@1"]
    assert oracle > na and res["t2i_r1_gap_user_vs_oracle"] == pytest.approx(oracle - na, abs=0.01)
    # both shipped adapters are packaged, so the NA vs RAQO rows are there, on the same 16 queries
    labels = ("NA", "+RAQO", "+RAQO direct", "+RAQO+lookup", "+RAQO direct+lookup")
    registers = ("user", "transfer", "paraphrase")
    assert set(res["raqo"]) == {f"{reg}: {x}" for reg in registers for x in labels}
    for reg in registers:
        assert {res["raqo"][f"{reg}: {x}"]["n_queries"]["t2i"] for x in labels} == {16}
    assert json.loads((tmp_path / "demo.json").read_text())["fingerprint"] == res["fingerprint"]
    import importlib.util

    want = "llamacpp" if importlib.util.find_spec("llama_cpp") else "hf"  # the fastest installed engine
    assert res["rewriter_backend"] == want
    out = capsys.readouterr().out
    assert "NA vs RAQO" in out and "+RAQO direct" in (tmp_path / "demo.md").read_text()
