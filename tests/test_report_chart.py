"""The comparison table and chart: missing directions show as '–' and are left out of the chart's panels."""

from __future__ import annotations

import pytest
from PIL import Image

from raqo_core.evaluation.report import chart_panels, markdown_table, recall_chart, register_chart, register_grid

ROWS = {
    "oracle": {"t2i": {"R@1": 53.4, "R@5": 93.3, "R@10": 99.1}, "i2t": {"R@1": 72.6, "R@5": 94.7, "R@10": 98.5}},
    "user: +RAQO": {"t2i": {"R@1": 53.5, "R@5": 86.5, "R@10": 94.0}, "n_queries": {"t2i": 200}},
}


def test_markdown_table_marks_missing_directions():
    lines = markdown_table(ROWS).splitlines()
    assert lines[0] == "| setting | T2I R@1 | T2I R@5 | T2I R@10 | I2T R@1 | I2T R@5 | I2T R@10 |"
    assert lines[2] == "| oracle | 53.4 | 93.3 | 99.1 | 72.6 | 94.7 | 98.5 |"
    assert lines[3] == "| user: +RAQO | 53.5 | 86.5 | 94.0 | – | – | – |"
    assert markdown_table(ROWS, ("t2i",)).splitlines()[3] == "| user: +RAQO | 53.5 | 86.5 | 94.0 |"


def test_chart_panels_leave_out_rows_without_the_direction():
    assert chart_panels(ROWS) == {"t2i": ["oracle", "user: +RAQO"], "i2t": ["oracle"]}
    assert chart_panels({"a": ROWS["user: +RAQO"]}) == {"t2i": ["a"]}
    assert chart_panels({}) == {}


def test_recall_chart_writes_one_panel_per_direction(tmp_path):
    two = recall_chart(ROWS, tmp_path / "two.png")
    one = recall_chart({"a": ROWS["user: +RAQO"]}, tmp_path / "one.png")
    w2, h2 = Image.open(two).size
    w1, h1 = Image.open(one).size
    assert h1 == h2 and w2 > w1 * 1.5  # two panels side by side, one legend column each
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.png", "two.png"]  # atomic: no temporary files left


def _r(r1):
    return {"t2i": {"R@1": r1, "R@5": r1 + 10, "R@10": r1 + 20}}


GRID = {"user: NA": _r(38), "user: +RAQO": _r(55), "transfer: NA": _r(17), "paraphrase: +RAQO": _r(10), "transfer: +RAQO": _r(22)}


def test_register_grid_keeps_first_seen_order():
    assert register_grid(GRID) == (["user", "transfer", "paraphrase"], ["NA", "+RAQO"])
    assert register_grid({}) == ([], [])


def test_register_grid_names_the_bad_row():
    with pytest.raises(ValueError, match="'oracle' is not named 'register: method'"):
        register_grid({**GRID, "oracle": _r(50)})
    with pytest.raises(ValueError, match="'user: x' has no I2T figures"):
        register_grid({"user: x": _r(1)}, direction="i2t")


def test_register_chart_one_panel_per_k_and_gaps_for_missing_cells(tmp_path):
    out = register_chart(GRID, tmp_path / "grid.png", title="t")  # paraphrase has no NA row: a gap, not an error
    w, h = Image.open(out).size
    assert w > 2.5 * h  # three R@K panels side by side
    assert [p.name for p in tmp_path.iterdir()] == ["grid.png"]
