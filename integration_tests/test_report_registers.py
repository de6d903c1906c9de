"""`raqo report` covers every register with unseen words (transfer, paraphrase), with and without the look-up."""

from __future__ import annotations

import shutil

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_report_has_paraphrase_and_lookup_rows(tiny_bench, tmp_path):
    from raqo_core.data.paraphrase import add_paraphrase_register
    from raqo_core.evaluation.paper_tables import run_report
    from raqo_core.retriever.registry import load_retriever
    from raqo_core.rewriter.adapters import shipped_adapter_dir

    data = tmp_path / "bench"
    shutil.copytree(tiny_bench, data)
    add_paraphrase_register(data)
    res = run_report(
        data=data,
        retriever=load_retriever("embedded"),
        adapters={"full": str(shipped_adapter_dir("recot"))},
        out=tmp_path / "report",
        t2i_limit=3,
        i2t_images=2,
        baselines=False,
        explain=0,
        lookup="embedded",
    )
    for register in ("transfer", "paraphrase"):
        assert set(res[register]) == {"NA", "+RAQO", "+RAQO+lookup"}
        assert all(row["n_queries"]["t2i"] == 3 for row in res[register].values())
    assert "+RAQO+lookup" in res["table1"] and res["settings"]["lookup"] == "embedded"
    md = (tmp_path / "report" / "report.md").read_text()
    assert "## Paraphrase register" in md and "## Transfer split" in md
