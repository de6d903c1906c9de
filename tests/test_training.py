"""Training: label masking, data and config validation, stage resume, the PRO trainer."""

from __future__ import annotations

import json
import math

import pytest
import yaml

from raqo_core.errors import RAQOError
from raqo_core.training import data as D
from raqo_core.training.pipeline import TrainConfig, chain_name
from raqo_core.training.stages import LoraSettings, NonFiniteLossError, StageConfig, _nan_callback, stage_done


@pytest.fixture(scope="module")
def tok(tiny_lm_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_lm_dir)


def _completion(tok, ex):
    return tok.decode([i for i, m in zip(ex["input_ids"], ex["completion_mask"], strict=True) if m])


def test_label_masking_only_response_tokens_count(tok):
    ccd = D.ccd_examples(tok, [{"query": "a crimson orb", "concepts": ["crimson", "orb"]}, {"query": "a red circle", "concepts": []}])
    assert _completion(tok, ccd[0]) == " crimson;orb\nRewrite:"
    assert _completion(tok, ccd[1]) == " None" + tok.eos_token
    prompt = tok.decode([i for i, m in zip(ccd[0]["input_ids"], ccd[0]["completion_mask"], strict=True) if not m])
    assert prompt == D.prompt_for(tok, "a crimson orb") and prompt.endswith("Concepts:")
    qre = D.qre_examples(tok, [{"query": "a crimson orb", "concepts": ["crimson"], "rewrite": "a red circle"}])
    assert _completion(tok, qre[0]) == " a red circle" + tok.eos_token  # the concepts are context, not target
    direct = D.qre_examples(tok, [{"query": "q", "concepts": [], "rewrite": "a red circle"}], mode="direct")
    assert _completion(tok, direct[0]) == " a red circle" + tok.eos_token
    assert D.qre_examples(tok, [{"query": "q", "concepts": [], "rewrite": "x"}], mode="recot") == []  # no concepts: skipped
    pro = D.pro_examples(tok, [{"query": "q", "concepts": ["c"], "candidates": [{"text": "a", "score": 0.3}, {"text": "b", "score": 0.2}]}])
    assert [_completion(tok, c) for c in pro[0]["candidates"]] == [" a" + tok.eos_token, " b" + tok.eos_token]
    assert pro[0]["rewards"] == [0.3, 0.2]


def test_prompt_tokenization_matches_inference(tok):
    from raqo_core.rewriter import prompt as P
    from raqo_core.rewriter.lm import render_chat

    ex = D.ccd_examples(tok, [{"query": "a crimson orb", "concepts": ["crimson"]}])[0]
    n_prompt = ex["completion_mask"].index(1)
    inference = tok(render_chat(tok, P.messages("a crimson orb"), "Concepts:"), add_special_tokens=False)["input_ids"]
    assert ex["input_ids"][:n_prompt] == inference


@pytest.mark.parametrize(
    ("content", "loader", "message"),
    [
        ('{"query": "a", "concepts": []}\n{"query": "b", "concepts": [\n', D.load_ccr, r":2: malformed JSON"),
        ("", D.load_ccr, "empty dataset"),
        ('{"query": "a"}\n', D.load_qre, r":1: missing field 'concepts'"),
        (
            '{"query": "a", "concepts": [], "candidates": [{"text": "x", "score": 1}]}\n',
            D.load_pro,
            r":1: PRO list of 1 candidates; expected at least 2",
        ),
        (
            '{"query": "a", "concepts": [], "candidates": [{"text": "x", "score": 1}, {"text": "y", "score": 2}]}\n',
            D.load_pro,
            "sorted best-first",
        ),
    ],
)
def test_bad_stage_data(tmp_path, content, loader, message):
    p = tmp_path / "d.jsonl"
    p.write_text(content)
    with pytest.raises(RAQOError, match=message):
        loader(p)


def test_config_validation(tmp_path):
    good = tmp_path / "c.yaml"
    good.write_text(yaml.safe_dump({"name": "x", "stages": ["ccd", "qre"], "ccd": {"lr": 1e-4}}))
    assert TrainConfig.from_yaml(good).stage("ccd").lr == 1e-4
    cases = [
        ({"stagez": []}, r"unknown setting\(s\) \['stagez'\]"),
        ({"stages": ["qre", "ccd"]}, "must keep the order"),
        ({"stages": ["sft"]}, "non-empty subset"),
        ({"mode": "direct", "stages": ["ccd", "qre"]}, "drop 'ccd'"),
        ({"ccd": {"lr": -1}}, "must be positive"),
        ({"qre": {"replay": -0.5}}, "replay must be >= 0"),
        ({"ccd": {"learning_rate": 1}}, "stage 'ccd'"),
        ({"mpade": {"unambiguous_k": 20}}, "unambiguous_k <= ambiguous_k"),
    ]
    for raw, msg in cases:
        p = tmp_path / "bad.yaml"
        p.write_text(yaml.safe_dump(raw))
        with pytest.raises(RAQOError, match=msg):
            TrainConfig.from_yaml(p)
    for preset in ("quick", "embedded", "paper"):
        TrainConfig.from_yaml(f"training/configs/{preset}.yaml")
    assert chain_name("direct", ["qre", "pro"]) == "direct:qre+pro"


def test_nan_guard_message():
    cb = _nan_callback()

    class S:
        global_step = 7

    class A:
        output_dir = "/tmp/ck"

    with pytest.raises(NonFiniteLossError, match=r"loss became nan at step 7; stopped. The last good checkpoint is kept in /tmp/ck"):
        cb.on_log(A(), S(), None, logs={"loss": math.nan})
    cb.on_log(A(), S(), None, logs={"loss": 1.0})


def _sft_examples(tok, n=12):
    recs = [{"query": f"a crimson orb number {i}", "concepts": ["crimson"], "rewrite": f"a red circle number {i}"} for i in range(n)]
    return D.qre_examples(tok, recs)


def test_stage_resumes_after_kill(tiny_lm_dir, tok, tmp_path, monkeypatch):
    from transformers import TrainerCallback

    from raqo_core.training import stages

    cfg = StageConfig(lr=1e-3, batch_size=2, epochs=1, save_steps=2, logging_steps=1)
    lora = LoraSettings(r=4, alpha=8, dropout=0.0)

    class Kill(TrainerCallback):
        def on_save(self, args, state, control, **kw):
            if state.global_step >= 2:
                raise KeyboardInterrupt("killed")

    real = stages._nan_callback
    monkeypatch.setattr(stages, "_nan_callback", lambda: Kill())
    with pytest.raises(KeyboardInterrupt):
        stages.train_sft_stage("qre", _sft_examples(tok), tmp_path, base=str(tiny_lm_dir), init_adapter=None, cfg=cfg, lora=lora)
    assert (tmp_path / "checkpoints" / "checkpoint-2").is_dir() and stage_done(tmp_path) is None
    monkeypatch.setattr(stages, "_nan_callback", real)
    seen = {}
    orig = stages._latest_checkpoint
    monkeypatch.setattr(stages, "_latest_checkpoint", lambda d: seen.setdefault("ck", orig(d)))
    info = stages.train_sft_stage("qre", _sft_examples(tok), tmp_path, base=str(tiny_lm_dir), init_adapter=None, cfg=cfg, lora=lora)
    assert seen["ck"].endswith("checkpoint-2")  # resumed, not restarted
    assert info["done"] and info["metrics"]["steps"] == 6 and math.isfinite(info["metrics"]["train_loss"])
    assert stage_done(tmp_path)["examples"] == 12
    assert json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())["r"] == 4


def test_pro_trainer_runs_on_ragged_lists(tiny_lm_dir, tok, tmp_path):
    from raqo_core.training.stages import train_pro_stage

    recs = [
        {
            "query": "a crimson orb",
            "concepts": ["crimson"],
            "candidates": [{"text": "a red circle", "score": 0.31}, {"text": "a red orb", "score": 0.29}],
        },
        {
            "query": "a cobalt tile",
            "concepts": ["cobalt"],
            "candidates": [
                {"text": "a blue square", "score": 0.33},
                {"text": "a blue tile", "score": 0.30},
                {"text": "a navy tile", "score": 0.2},
            ],
        },
    ]
    ex = D.pro_examples(tok, recs)
    info = train_pro_stage(
        ex,
        tmp_path,
        base=str(tiny_lm_dir),
        init_adapter=None,
        cfg=StageConfig(lr=1e-4, batch_size=2, epochs=2, ranking_length=3, logging_steps=1),
        lora=LoraSettings(r=4, alpha=8, dropout=0.0),
    )
    assert info["metrics"]["steps"] == 2 and math.isfinite(info["metrics"]["train_loss"])
    assert (tmp_path / "adapter" / "adapter_model.safetensors").is_file()
