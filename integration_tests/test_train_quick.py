"""`raqo train` with the `quick` preset end to end: MPADE → CCD → QRE → PRO on the embedded models,
then the adapter in front of the retriever (rewrite CLI, eval hook, retriever-mismatch warning)."""

from __future__ import annotations

import json

import pytest

from raqo_core.cli import main

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_quick_preset_end_to_end(tmp_path, capsys):
    assert main(["train", "--config", "training/configs/quick.yaml", "--out", str(tmp_path)]) == 0
    run = tmp_path / "quick"
    for chain in ("ccd", "ccd+qre", "ccd+qre+pro"):
        info = json.loads((run / chain / "stage.json").read_text())
        assert info["done"] and info["metrics"]["steps"] >= 1
    meta = json.loads((run / "adapter" / "raqo_adapter.json").read_text())
    from raqo_core.retriever.base import shared_retriever

    assert meta["retriever_fingerprint"] == shared_retriever("embedded").fingerprint and meta["stages"] == ["ccd", "qre", "pro"]
    # a second run skips every finished stage
    t = json.loads((run / "train_summary.json").read_text())["stages"]["ccd"]["seconds"]
    assert main(["train", "--config", "training/configs/quick.yaml", "--out", str(tmp_path)]) == 0
    assert json.loads((run / "train_summary.json").read_text())["stages"]["ccd"]["seconds"] == t
    capsys.readouterr()
    assert main(["rewrite", "a giant crimson orb to the west of a tiny cobalt tile", "--adapter", str(run / "adapter"), "--json"]) == 0
    [res] = json.loads(capsys.readouterr().out)
    assert res["original_query"] == "a giant crimson orb to the west of a tiny cobalt tile" and res["reason"]
