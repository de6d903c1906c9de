"""Training: label masking, data and config validation, stage resume, the PRO trainer."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import yaml

from raqo_core.errors import RAQOError
from raqo_core.mpade import records as R
from raqo_core.training import data as D
from raqo_core.training.pipeline import TrainConfig, ablations, chain_name
from raqo_core.training.stages.base import LoraSettings, NonFiniteLossError, nan_callback, stage_done
from raqo_core.training.stages.pro import PROConfig
from raqo_core.training.stages.qre import QREConfig


def ccr(recs):
    return [R.ccr_from_json(r) for r in recs]


def qre(recs):
    return [R.qre_from_json(r) for r in recs]


def pro(recs):
    return [R.pro_from_json(r) for r in recs]


@pytest.fixture(scope="module")
def tok(tiny_lm_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_lm_dir)


def _completion(tok, ex):
    return tok.decode([i for i, m in zip(ex["input_ids"], ex["completion_mask"], strict=True) if m])


def test_label_masking_only_response_tokens_count(tok):
    ccd = D.ccd_examples(tok, ccr([{"query": "a crimson orb", "concepts": ["crimson", "orb"]}, {"query": "a red circle", "concepts": []}]))
    assert _completion(tok, ccd[0]) == " crimson;orb\nRewrite:"
    assert _completion(tok, ccd[1]) == " None" + tok.eos_token
    prompt = tok.decode([i for i, m in zip(ccd[0]["input_ids"], ccd[0]["completion_mask"], strict=True) if not m])
    assert prompt == D.prompt_for(tok, "a crimson orb") and prompt.endswith("Concepts:")
    rw = D.qre_examples(tok, qre([{"query": "a crimson orb", "concepts": ["crimson"], "rewrite": "a red circle"}]))
    assert _completion(tok, rw[0]) == " a red circle" + tok.eos_token  # the concepts are context, not target
    direct = D.qre_examples(tok, qre([{"query": "q", "concepts": [], "rewrite": "a red circle"}]), mode="direct")
    assert _completion(tok, direct[0]) == " a red circle" + tok.eos_token
    assert D.qre_examples(tok, qre([{"query": "q", "concepts": [], "rewrite": "x"}]), mode="recot") == []  # no concepts: skipped
    ranked = D.pro_examples(
        tok, pro([{"query": "q", "concepts": ["c"], "candidates": [{"text": "a", "score": 0.3}, {"text": "b", "score": 0.2}]}])
    )
    assert [_completion(tok, c) for c in ranked[0]["candidates"]] == [" a" + tok.eos_token, " b" + tok.eos_token]
    assert ranked[0]["rewards"] == [0.3, 0.2]


def test_prompt_tokenization_matches_inference(tok):
    from raqo_core.rewriter import prompt as P
    from raqo_core.rewriter.engines.template import render_chat

    ex = D.ccd_examples(tok, ccr([{"query": "a crimson orb", "concepts": ["crimson"]}]))[0]
    n_prompt = ex["completion_mask"].index(1)
    inference = tok(render_chat(tok, P.messages("a crimson orb"), "Concepts:"), add_special_tokens=False)["input_ids"]
    assert ex["input_ids"][:n_prompt] == inference


@pytest.mark.parametrize(
    ("content", "loader", "message"),
    [
        ('{"query": "a", "concepts": []}\n{"query": "b", "concepts": [\n', R.read_ccr, r":2: malformed JSON"),
        ("", R.read_ccr, "empty dataset"),
        ('{"query": "a"}\n', R.read_qre, r":1: missing field 'concepts'"),
        (
            '{"query": "a", "concepts": [], "candidates": [{"text": "x", "score": 1}]}\n',
            R.read_pro,
            r":1: PRO list of 1 candidates; expected at least 2",
        ),
        (
            '{"query": "a", "concepts": [], "candidates": [{"text": "x", "score": 1}, {"text": "y", "score": 2}]}\n',
            R.read_pro,
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
        ({"mode": "direct", "stages": ["ccd", "qre"]}, "stage 'ccd' does not train mode 'direct'"),
        ({"dpo": {"lr": 1}}, r"unknown setting\(s\) \['dpo'\]"),
        ({"pro": {"ranking_length": 1}}, "ranking_length must be >= 2"),
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
    for preset in ("quick", "embedded", "embedded_gemma3", "paper"):
        assert TrainConfig.from_yaml(f"training/configs/{preset}.yaml") == TrainConfig.from_yaml(preset)
    # the Gemma 3 preset is the embedded recipe on another base, nothing else
    gemma, smol = TrainConfig.from_yaml("embedded_gemma3"), TrainConfig.from_yaml("embedded")
    assert gemma.base_model == "gemma3_270m" and gemma == dataclasses.replace(smol, name="embedded_gemma3", base_model="gemma3_270m")


def test_presets_resolve_by_name_from_any_folder(tmp_path, monkeypatch):
    from raqo_core.training.pipeline import preset_names

    monkeypatch.chdir(tmp_path)  # as an installed package: no repository around
    assert preset_names() == ("embedded", "embedded_gemma3", "paper", "quick")
    assert TrainConfig.from_yaml("quick").name == "quick" and TrainConfig.from_yaml("embedded.yaml").name == "embedded"
    with pytest.raises(
        RAQOError, match="training config not found: 'quik'; expected a YAML file or a preset name: embedded, embedded_gemma3, paper, quick"
    ):
        TrainConfig.from_yaml("quik")
    with pytest.raises(RAQOError, match="not found: 'configs/quick.yaml'"):  # a path is a path, never a preset
        TrainConfig.from_yaml("configs/quick.yaml")
    assert chain_name("direct", ["qre", "pro"]) == "direct:qre+pro"


def test_ablations_follow_the_registered_stages():
    assert ablations() == {
        "full": ("recot", ["ccd", "qre", "pro"]),
        "no_recot": ("direct", ["qre", "pro"]),
        "no_ccr": ("recot", ["qre", "pro"]),
        "no_qre": ("recot", ["ccd", "pro"]),
        "no_pro": ("recot", ["ccd", "qre"]),
    }
    v = TrainConfig(stage_settings={"qre": {"lr": 1e-4}}).variant("no_recot")
    assert (v.mode, v.stages, v.stage("qre").lr) == ("direct", ["qre", "pro"], 1e-4)
    with pytest.raises(RAQOError, match="unknown ablation 'no_x'"):
        TrainConfig().variant("no_x")


def test_a_new_stage_is_one_class_and_one_registration(tmp_path, monkeypatch):
    """A third-party stage: its config in YAML under its name, its place in the order, its ablation row."""
    from dataclasses import dataclass

    from raqo_core.training import stages
    from raqo_core.training.stages.base import StageConfig

    @dataclass
    class EchoConfig(StageConfig):
        stage = "echo"
        note: str = "hi"

    class EchoStage:
        name, config_class, ablation, modes = "echo", EchoConfig, "no_echo", ("recot", "direct")

        def train(self, ctx, cfg, out):
            return {"examples": 0, "seconds": 0.0, "metrics": {"note": cfg.note}}

    monkeypatch.setattr(stages, "STAGES", stages.STAGES.copy())
    stages.register_stage("echo", EchoStage)
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump({"stages": ["qre", "echo"], "echo": {"note": "yo"}}))
    cfg = TrainConfig.from_yaml(p)
    assert cfg.stage("echo").note == "yo" and ablations()["no_echo"] == ("recot", ["ccd", "qre", "pro"])
    p.write_text(yaml.safe_dump({"stages": ["echo", "qre"]}))
    with pytest.raises(RAQOError, match="must keep the order ccd → qre → pro → echo"):
        TrainConfig.from_yaml(p)


def test_nan_guard_message():
    cb = nan_callback()

    class S:
        global_step = 7

    class A:
        output_dir = "/tmp/ck"

    with pytest.raises(NonFiniteLossError, match=r"loss became nan at step 7; stopped. The last good checkpoint is kept in /tmp/ck"):
        cb.on_log(A(), S(), None, logs={"loss": math.nan})
    cb.on_log(A(), S(), None, logs={"loss": 1.0})


def _sft_examples(tok, n=12):
    recs = [{"query": f"a crimson orb number {i}", "concepts": ["crimson"], "rewrite": f"a red circle number {i}"} for i in range(n)]
    return D.qre_examples(tok, qre(recs))


def test_stage_resumes_after_kill(tiny_lm_dir, tok, tmp_path, monkeypatch):
    from transformers import TrainerCallback

    from raqo_core.training.stages import base, sft

    cfg = QREConfig(lr=1e-3, batch_size=2, epochs=1, save_steps=2, logging_steps=1)
    lora = LoraSettings(r=4, alpha=8, dropout=0.0)

    class Kill(TrainerCallback):
        def on_save(self, args, state, control, **kw):
            if state.global_step >= 2:
                raise KeyboardInterrupt("killed")

    real = base.nan_callback
    monkeypatch.setattr(base, "nan_callback", lambda: Kill())
    with pytest.raises(KeyboardInterrupt):
        sft.train_sft("qre", _sft_examples(tok), tmp_path, base_model=str(tiny_lm_dir), init_adapter=None, cfg=cfg, lora=lora)
    assert (tmp_path / "checkpoints" / "checkpoint-2").is_dir() and stage_done(tmp_path) is None
    monkeypatch.setattr(base, "nan_callback", real)
    seen = {}
    orig = base.latest_checkpoint
    monkeypatch.setattr(base, "latest_checkpoint", lambda d: seen.setdefault("ck", orig(d)))
    info = sft.train_sft("qre", _sft_examples(tok), tmp_path, base_model=str(tiny_lm_dir), init_adapter=None, cfg=cfg, lora=lora)
    assert seen["ck"].endswith("checkpoint-2")  # resumed, not restarted
    assert info["done"] and info["metrics"]["steps"] == 6 and math.isfinite(info["metrics"]["train_loss"])
    assert stage_done(tmp_path)["examples"] == 12
    assert json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())["r"] == 4


def test_pro_trainer_runs_on_ragged_lists(tiny_lm_dir, tok, tmp_path):
    from raqo_core.training.stages.pro import train_pro

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
    ex = D.pro_examples(tok, pro(recs))
    info = train_pro(
        ex,
        tmp_path,
        base_model=str(tiny_lm_dir),
        init_adapter=None,
        cfg=PROConfig(lr=1e-4, batch_size=2, epochs=2, ranking_length=3, logging_steps=1),
        lora=LoraSettings(r=4, alpha=8, dropout=0.0),
    )
    assert info["metrics"]["steps"] == 2 and math.isfinite(info["metrics"]["train_loss"])
    assert (tmp_path / "adapter" / "adapter_model.safetensors").is_file()


def test_pro_replay_adds_the_concept_lines_token_mean_nll(tiny_lm_dir, tok):
    """PRO trains rewrites only; with ``replay`` each step also pays the SFT loss of D_CCR lines."""
    import torch
    from transformers import AutoModelForCausalLM

    from raqo_core.training.pro_loss import pro_loss
    from raqo_core.training.stages.pro import PROCollator, PROTrainer, sequence_logps

    recs = [
        {
            "query": "a crimson orb",
            "concepts": ["crimson"],
            "candidates": [{"text": "a red circle", "score": 0.31}, {"text": "a orb", "score": 0.2}],
        }
    ]
    [lst] = D.pro_examples(tok, pro(recs), max_candidates=2)
    ccd = D.ccd_examples(tok, ccr([{"query": "a cobalt tile", "concepts": ["cobalt"]}, {"query": "a red square", "concepts": []}]))
    coll = PROCollator(tok.pad_token_id, 2)
    plain = coll([lst])
    assert not any(k.startswith("replay_") for k in plain)
    mixed = coll([{**lst, "replay": ccd}])
    assert mixed["replay_input_ids"].shape[0] == 2 and torch.equal(mixed["input_ids"], plain["input_ids"])

    model = AutoModelForCausalLM.from_pretrained(tiny_lm_dir).eval()
    trainer = PROTrainer.__new__(PROTrainer)
    trainer.n, trainer.sft_weight, trainer.reward_scale = 2, 0.1, 100.0
    with torch.no_grad():
        base = trainer.compute_loss(model, plain)
        with_replay = trainer.compute_loss(model, mixed)
        out = model(input_ids=plain["input_ids"], attention_mask=plain["attention_mask"])
        s, mean = sequence_logps(out.logits, plain["input_ids"], plain["completion_mask"])
        expected_pro = pro_loss(mean.view(1, 2), s.view(1, 2), plain["rewards"] * 100.0, 0.1)
        # the replay term by hand: cross-entropy over the concept-line tokens only, averaged over tokens
        nll, count = 0.0, 0
        for ex in ccd:
            ids = torch.tensor([ex["input_ids"]])
            logp = torch.log_softmax(model(input_ids=ids).logits[0, :-1].float(), -1)
            for t, m in enumerate(ex["completion_mask"][1:]):
                if m:
                    nll -= float(logp[t, ex["input_ids"][t + 1]])
                    count += 1
    assert float(base) == pytest.approx(float(expected_pro), rel=1e-5)
    assert float(with_replay) == pytest.approx(float(expected_pro) + nll / count, rel=1e-4)


def test_pro_stage_attaches_replay_to_a_share_of_the_lists(tiny_lm_dir, tok, tmp_path, monkeypatch):
    import datasets

    from raqo_core.training.stages.pro import train_pro

    recs = [
        {
            "query": f"a crimson orb {i}",
            "concepts": ["crimson"],
            "candidates": [{"text": "a red circle", "score": 0.3}, {"text": "a orb", "score": 0.2}],
        }
        for i in range(4)
    ]
    ccd = D.ccd_examples(tok, ccr([{"query": f"a cobalt tile {i}", "concepts": ["cobalt"]} for i in range(10)]))
    seen = {}
    orig = datasets.Dataset.from_list
    monkeypatch.setattr(datasets.Dataset, "from_list", lambda rows: seen.setdefault("rows", rows) and orig(rows))
    info = train_pro(
        D.pro_examples(tok, pro(recs)),
        tmp_path,
        base_model=str(tiny_lm_dir),
        init_adapter=None,
        cfg=PROConfig(lr=1e-4, batch_size=2, epochs=1, ranking_length=2, replay=0.5),
        lora=LoraSettings(r=4, alpha=8, dropout=0.0),
        replay=ccd,
    )
    assert sorted(len(r["replay"]) for r in seen["rows"]) == [0, 0, 1, 1]  # round(0.5 × 4 lists) concept lines
    assert info["metrics"]["steps"] == 2 and math.isfinite(info["metrics"]["train_loss"])


def test_pro_lists_longer_than_the_ranking_keep_best_worst_and_spaced_between(tok):
    assert D.spread(list(range(10)), 5) == [0, 2, 5, 7, 9]
    assert D.spread(list(range(3)), 5) == [0, 1, 2]
    assert D.spread(list(range(6)), 2) == [0, 5]
    with pytest.raises(ValueError, match="n >= 2, got 1"):
        D.spread([1, 2], 1)
    cands = [{"text": f"c{i}", "score": 1 - i / 10} for i in range(7)]
    [ex] = D.pro_examples(tok, pro([{"query": "q", "concepts": ["c"], "candidates": cands}]), max_candidates=3)
    assert ex["rewards"] == [1.0, pytest.approx(0.7), pytest.approx(0.4)]
