"""`raqo train` with the `quick` preset end to end: MPADE → CCD → QRE → PRO on the embedded models,
then the adapter in front of the retriever (rewrite CLI, eval hook, retriever-mismatch warning)."""

from __future__ import annotations

import json

import pytest

from raqo_core.cli import main

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_quick_preset_end_to_end(quick_run, capsys):
    run = quick_run
    tmp_path = run.parent
    for chain in ("ccd", "ccd+qre", "ccd+qre+pro"):
        info = json.loads((run / chain / "stage.json").read_text())
        assert info["done"] and info["metrics"]["steps"] >= 1
    summary = json.loads((run / "train_summary.json").read_text())
    n_qre = min(24, len((run / "mpade" / "D_QRE.jsonl").read_text().splitlines()))
    n_ccr = len((run / "mpade" / "D_CCR.jsonl").read_text().splitlines())
    # the rewrite examples plus 50 % as many replayed concept examples
    assert summary["stages"]["qre"]["examples"] == n_qre + min(n_ccr, round(0.5 * n_qre))
    # PRO ranked the stage-start model's own rewrites beside MPADE's, scored by the retriever
    lists = [json.loads(line) for line in (run / "ccd+qre+pro" / "D_PRO.policy.jsonl").read_text().splitlines()]
    with_concepts = [line for line in (run / "mpade" / "D_PRO.jsonl").read_text().splitlines() if json.loads(line)["concepts"]]
    assert len(lists) == summary["stages"]["pro"]["examples"] == min(8, len(with_concepts))
    assert any(c.get("source") == "policy" for x in lists for c in x["candidates"])
    assert all([c["score"] for c in x["candidates"]] == sorted((c["score"] for c in x["candidates"]), reverse=True) for x in lists)
    meta = json.loads((run / "adapter" / "raqo_adapter.json").read_text())
    from raqo_core.retriever.registry import shared_retriever

    assert meta["retriever_fingerprint"] == shared_retriever("embedded").fingerprint and meta["stages"] == ["ccd", "qre", "pro"]
    # the adapter carries the retriever look-up built from the same MPADE outputs; lookup="auto" finds it
    from raqo_core.lookup import ConceptLookup
    from raqo_core.rewriter.export import ExportSource, export_lora
    from raqo_core.rewriter.factory import config_with
    from raqo_core.rewriter.lookup import effective_lookup

    assert meta["lookup"] == "lookup" and effective_lookup(config_with(adapter=str(run / "adapter"))) == str(run / "adapter" / "lookup")
    mined = json.loads((run / "adapter" / "lookup" / "preferences.json").read_text())["concepts"]
    assert mined and ConceptLookup.from_folder(run / "adapter" / "lookup").status["lexicon"].startswith("ok")
    lora = export_lora(ExportSource(adapter=str(run / "adapter")), tmp_path / "lora")
    assert (lora / "lookup" / "vocabulary.json").is_file()  # an exported adapter keeps its look-up
    # every stage adapter names its base portably, not this machine's cache path
    for chain in ("ccd", "ccd+qre", "ccd+qre+pro"):
        assert json.loads((run / chain / "adapter" / "adapter_config.json").read_text())["base_model_name_or_path"] == (
            "HuggingFaceTB/SmolLM2-135M-Instruct"
        )
    # an ablation variant sharing the run folder returns its own chain and leaves the recipe's adapter alone
    from raqo_core.training.pipeline import TrainConfig, run_training

    cfg = TrainConfig.from_yaml("training/configs/quick.yaml")
    no_pro = run_training(cfg.variant("no_pro"), tmp_path, publish=False)
    assert no_pro["adapter"] == str(run / "ccd+qre" / "adapter")
    assert json.loads((run / "adapter" / "raqo_adapter.json").read_text())["stages"] == ["ccd", "qre", "pro"]
    assert json.loads((run / "ccd+qre" / "adapter" / "raqo_adapter.json").read_text())["stages"] == ["ccd", "qre"]
    assert json.loads((run / "train_summary.json").read_text())["stages"].keys() == {"ccd", "qre", "pro"}
    # a second run skips every finished stage
    t = json.loads((run / "train_summary.json").read_text())["stages"]["ccd"]["seconds"]
    assert main(["train", "--config", "training/configs/quick.yaml", "--out", str(tmp_path)]) == 0
    assert json.loads((run / "train_summary.json").read_text())["stages"]["ccd"]["seconds"] == t
    capsys.readouterr()
    assert main(["rewrite", "a giant crimson orb to the west of a tiny cobalt tile", "--adapter", str(run / "adapter"), "--json"]) == 0
    [res] = json.loads(capsys.readouterr().out)
    assert res["original_query"] == "a giant crimson orb to the west of a tiny cobalt tile" and res["reason"]
    assert res["hints"]  # the adapter's own look-up ran before the rewrite and said what it did with the unknown words
