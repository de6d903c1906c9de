"""``raqo train --dry-run``: every preset plans, and each misconfiguration a user makes is named (no weights load)."""

from __future__ import annotations

import json

import pytest
import yaml

from raqo_core.cli import main
from raqo_core.training.pipeline import TrainConfig
from raqo_core.training.plan import plan_training


def test_quick_preset_plans_with_its_steps(tmp_path, capsys):
    assert main(["train", "--config", "quick", "--dry-run", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| ccd | 24 | 3 | 8 (8) | 1 | 256 |" in out  # 24 examples, batch 8, one epoch
    assert "| qre | 36 | 5 | 8 (8) | 1 | 256 |" in out  # 24 rewrites + 12 replayed concept lines
    assert "| pro | 8 | 2 | 4 (4) | 1 | 256 |" in out  # 8 ranked lists of 3, batch 4
    assert "no problems found" in out and not (tmp_path / "quick").exists()  # nothing trained, nothing written


def test_the_plan_splits_batches_across_processes(tmp_path, capsys):
    assert main(["train", "--config", "quick", "--dry-run", "--processes", "2", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| ccd | 24 | 3 | 8 (4) | 1 | 256 |" in out and "| pro | 8 | 2 | 4 (2) | 1 | 256 |" in out
    assert "2 processes: each stage's batch_size is split across them" in out
    # 36 QRE rows fill 4 global batches of 8 and a ragged fifth: the launcher repeats examples to fill it
    assert "stage 'qre': 36 rows leave a last global batch of 4 (of 8)" in out
    assert main(["train", "--config", "quick", "--dry-run", "--processes", "3", "--out", str(tmp_path)]) == 2
    out = capsys.readouterr().out
    assert "problem: stage 'ccd': batch_size=8 is not divisible by 3 processes; expected a multiple of 3" in out


def test_the_paper_preset_passes_with_a_stand_in_base_and_dataset(tmp_path, tiny_lm_dir, tiny_bench):
    cfg = TrainConfig.from_yaml("paper")
    cfg.base_model, cfg.data = str(tiny_lm_dir), str(tiny_bench)  # stand-ins for Qwen2.5 and Flickr30K
    cfg.mpade = {**cfg.mpade, "register": "user"}
    plan = plan_training(cfg, tmp_path)
    assert plan.ok, plan.problems
    assert [s["stage"] for s in plan.stages] == ["ccd", "qre", "pro"] and all(s["memory_mb"] for s in plan.stages)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"stages": ["qre", "ccd"]}, "config: stages must keep the order ccd → qre → pro"),
        ({"mode": "direct"}, "config: stage 'ccd' does not train mode 'direct'"),
        ({"data": "no/such/folder"}, "data: no dataset manifest at 'no/such/folder'"),
        ({"mpade": {"split": "dev"}}, "unknown split 'dev'"),
        ({"mpade": {"register": "tweets"}}, "data: the MPADE register 'tweets' is not in"),
        ({"base_model": "no-such-model"}, "base_model: unknown base model 'no-such-model'"),
        ({"base_model": "/no/such/folder/"}, "base_model: base model folder '/no/such/folder/' does not exist"),
        ({"retriever": "clip:ViT-B-32"}, "retriever: unknown retriever spec 'clip:ViT-B-32'"),
        ({"retriever": "open_clip:ViT-B-99/openai"}, "retriever: unknown open_clip model 'ViT-B-99'"),
        ({"retriever": "open_clip:ViT-B-32/openia"}, "retriever: unknown pretrained tag 'openia'"),
        ({"retriever": "onnx:/nowhere"}, "retriever: '/nowhere' is not a RAQO ONNX export"),
        ({"mpade_dir": "/nowhere/mpade"}, "mpade_dir: mpade_dir '/nowhere/mpade' lacks"),
        ({"stage_settings": {"qre": {"batch_size": 0}}}, "batch_size and epochs must be positive"),
        ({"stage_settings": {"pro": {"learning_rate": 1e-5}}}, "stage 'pro': "),
        ({"lora": {"rank": 8}}, "config: lora: LoraSettings.__init__() got an unexpected keyword argument 'rank'"),
    ],
)
def test_each_misconfiguration_is_named(tmp_path, tiny_bench, change, problem):
    raw = {"name": "t", "data": str(tiny_bench), "retriever": "embedded", "base_model": "embedded", "mpade": {"register": "user"}}
    stage_settings = change.pop("stage_settings", {}) if "stage_settings" in change else {}
    raw.update(change)
    raw.update(stage_settings)
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump(raw))
    cfg = TrainConfig.from_yaml(p, validate=False)
    plan = plan_training(cfg, tmp_path / "runs")
    assert not plan.ok and any(problem in x for x in plan.problems), plan.problems


def test_a_dry_run_reports_every_problem_at_once(tmp_path, capsys):
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump({"data": "missing", "retriever": "nope:x", "base_model": "nope", "stages": ["pro", "ccd"]}))
    assert main(["train", "--config", str(p), "--dry-run", "--out", str(tmp_path)]) == 2
    out = capsys.readouterr().out
    assert sum(line.startswith("problem: ") for line in out.splitlines()) >= 4


def test_reused_mpade_outputs_size_the_stages(tmp_path, tiny_bench):
    d = tmp_path / "mpade"
    d.mkdir()
    (d / "meta.json").write_text("{}")
    for f, n in (("D_CCR.jsonl", 30), ("D_QRE.jsonl", 20), ("D_PRO.jsonl", 6)):
        (d / f).write_text("".join(json.dumps({"query": f"q{i}", "concepts": []}) + "\n" for i in range(n)))
    cfg = TrainConfig(data=str(tiny_bench), mpade_dir=str(d), mpade={"register": "user"})
    plan = plan_training(cfg, tmp_path)
    assert plan.ok, plan.problems
    assert [s["examples"] for s in plan.stages] == [30, 20, 6]
