"""The comparison table and chart: missing directions show as '–' and are left out of the chart's panels."""

from __future__ import annotations

from PIL import Image

from raqo_core.evaluation.report import chart_panels, markdown_table, recall_chart

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
