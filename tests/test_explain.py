"""raqo explain: Captum integrated gradients on the embedded open_clip retriever (words and image patches),
completeness and determinism, the figure and JSON, the concept statistics, and errors that name the value."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from raqo_core.cli import main
from raqo_core.errors import RAQOError
from raqo_core.explain import Explainer, attribute_image, attribute_text
from raqo_core.explain.gallery import concept_stats, load_results, wilson, write_gallery


@pytest.fixture(scope="module")
def explainer(tiny_bench):
    return Explainer("embedded", data=tiny_bench, split="test")


def _query(tiny_bench_explainer, k=0):
    return tiny_bench_explainer.records[k].captions[0]


def test_text_attributions_are_complete_and_deterministic(explainer):
    q = _query(explainer)
    img = explainer.gallery_emb[0]
    a = attribute_text(explainer.retriever, q, img)
    # completeness: the words' attributions sum to f(query) − f(blank query), within the Riemann error at 64 steps
    assert sum(a.scores) == pytest.approx(a.similarity - a.baseline_similarity, abs=1e-3)
    assert abs(a.delta) < 1e-3
    assert a.similarity == pytest.approx(float(explainer.retriever.encode_texts([q])[0] @ img), abs=1e-5)
    assert a.words == q.lower().replace(",", " ,").split()  # sub-word tokens are summed back into the words
    b = attribute_text(explainer.retriever, q, img)
    assert a.scores == b.scores  # deterministic
    coarse = attribute_text(explainer.retriever, q, img, steps=2)
    assert abs(coarse.delta) > abs(a.delta)  # the gap shrinks with more steps: the check above can fail


def test_image_attributions_are_complete_per_patch(explainer):
    q = _query(explainer)
    t = explainer.retriever.encode_texts([q])[0]
    p = attribute_image(explainer.retriever, explainer._paths[0], t)
    assert p.grid.shape == (8, 8)  # a 64-px image in 8-px ViT patches
    assert float(p.grid.sum()) == pytest.approx(p.similarity - p.baseline_similarity, abs=1e-3)
    assert p.pixels.shape == (64, 64, 3) and 0.0 <= p.pixels.min() <= p.pixels.max() <= 1.0
    assert np.array_equal(p.grid, attribute_image(explainer.retriever, explainer._paths[0], t).grid)


def test_explain_ranks_the_target_and_draws_a_figure(explainer, tmp_path):
    q = _query(explainer, 1)
    e = explainer.explain(q, image="target", rewrite="a red square", concepts=["square"])
    sims = explainer.gallery_emb @ explainer.retriever.encode_texts([q])[0]
    assert e.image == explainer.records[1].image_id
    assert e.query.rank == int((np.delete(sims, 1) > sims[1]).sum())
    assert e.rewrite is not None and e.rewrite.tokens.text == "a red square"
    png = e.save_png(tmp_path / "f.png")
    with Image.open(png) as im:
        assert im.size[0] > 800 and im.size[1] > 600  # two rows: query and rewrite
    d = json.loads(json.dumps(e.to_dict()))
    assert d["query"]["words"] == e.query.tokens.words and d["query"]["image"]["patch_grid"][0][0] == round(
        float(e.query.patches.grid[0, 0]), 6
    )
    assert d["rewrite"]["rank"] == e.rewrite.rank
    top = explainer.explain(q, image="top1")
    assert top.query.rank == 0 and top.rewrite is None  # the query's own top hit ranks first


def test_bad_inputs_name_the_value(explainer):
    q = _query(explainer)
    with pytest.raises(RAQOError, match="unknown image 'nope': not a file and not an image id of .*expected a path, an id such as 'test-"):
        explainer.explain(q, image="nope")
    with pytest.raises(RAQOError, match="the query to explain is empty"):
        explainer.explain("  ")
    with pytest.raises(RAQOError, match="image='target': the query 'zzz qqq' is not a text of any 'test' image"):
        explainer.explain("zzz qqq", image="target")
    onnx_only = SimpleNamespace(spec="onnx:/models/clip", encode_texts=None)
    with pytest.raises(RAQOError, match="explanations need the retriever's torch model .*'onnx:/models/clip' has none .*ONNX export"):
        Explainer(onnx_only)
    with pytest.raises(RAQOError, match="gallery ids, 'target' and 'top1' need a dataset"):
        Explainer(explainer.retriever).explain(q, image="target")


def test_concept_stats_and_gallery(explainer, tmp_path):
    from raqo_core.rewriter.result import RewriteResult

    rs = []
    for r in explainer.records[:4]:
        q = r.captions[0]
        words = q.split()
        rs.append(RewriteResult(q, " ".join(words[:-1] + ["zebra"]), [words[-1], "absent words"], True, "rewritten", 1.0))
    rs.append(RewriteResult("left alone", "left alone", [], False, "no challenging concepts", 1.0))
    st = concept_stats(explainer, rs)
    assert st["queries"] == 4 and st["concepts"] == 4 and st["concepts_not_found_in_query"] == 4
    assert 0.0 <= st["below_median_share"] <= 1.0 and st["below_median_ci95"][0] <= st["below_median_share"] <= st["below_median_ci95"][1]
    assert st["rank_improved_share"] + st["rank_worse_share"] <= 1.0
    g = write_gallery(explainer, rs, tmp_path, n=2)
    assert [it["png"] for it in g["items"]] == ["explain_01.png", "explain_02.png"]
    assert "![](explain_02.png)" in (tmp_path / "gallery.md").read_text()
    p = tmp_path / "rs.jsonl"
    p.write_text("\n".join(json.dumps(r.to_dict()) for r in rs))
    assert [r.rewritten_query for r in load_results(p)] == [r.rewritten_query for r in rs]


def test_wilson_interval():
    lo, hi = wilson(44, 100)
    # by hand: centre (0.44 + 1.96²/200) / (1 + 1.96²/100) = 0.44222, half-width 0.09550
    assert (round(lo, 4), round(hi, 4)) == (0.3467, 0.5377)
    assert wilson(0, 0) == (0.0, 1.0)


def test_explain_command(tiny_bench, tmp_path, capsys):
    from raqo_core.data.manifest import load_manifest

    rec = load_manifest(tiny_bench).split("test")[2]
    out = tmp_path / "e.png"
    args = ["explain", rec.captions[0], "--rewrite", "a red circle", "--image", rec.image_id, "--data", str(tiny_bench), "--out", str(out)]
    assert main(args) == 0
    assert "similarity" in capsys.readouterr().out and out.is_file()
    assert json.loads(out.with_suffix(".json").read_text())["image"] == rec.image_id
    assert (
        main(["explain", "a red circle", "--rewrite", "none", "--image", "missing-id", "--data", str(tiny_bench), "--out", str(out)]) == 2
    )
    assert "unknown image 'missing-id'" in capsys.readouterr().err
    assert main(["explain", "--data", str(tiny_bench)]) == 2
    assert "needs a query, or --batch N" in capsys.readouterr().err


def test_the_report_section_links_its_figures(explainer, tiny_bench, tmp_path):
    from raqo_core.explain.gallery import report_section
    from raqo_core.rewriter.result import RewriteResult

    rs = [RewriteResult(r.captions[0], "a red zebra", [r.captions[0].split()[-1]], True, "rewritten", 1.0) for r in explainer.records[:3]]
    lines = report_section(explainer, rs, tmp_path / "explain", n=2)
    text = "\n".join(lines)
    assert (
        "## Why the rewrites help (integrated gradients)" in text
        and "Over 3 rewritten test queries with a target: 3 named concepts" in text
    )
    assert text.count("](explain/explain_0") == 2 and (tmp_path / "explain" / "explain_02.png").is_file()
    assert json.loads((tmp_path / "explain" / "concept_stats.json").read_text())["queries"] == 3
    with pytest.raises(RAQOError, match="gallery_emb has 1 rows for the 40 'test' images"):
        Explainer(explainer.retriever, data=tiny_bench, gallery_emb=np.zeros((1, 128)))
