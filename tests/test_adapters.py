"""Which adapter ``auto``/``embedded`` resolve to, the shipped adapters' metadata, and mode checks."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import pytest

from raqo_core.errors import RAQOError
from raqo_core.rewriter import adapters as A
from raqo_core.rewriter.prompt import MODES
from raqo_core.rewriter.rewriter import Rewriter, RewriterConfig


def test_auto_resolves_to_the_shipped_adapter_of_the_mode():
    assert A.resolve_adapter("auto", "embedded") == str(A.EMBEDDED_ADAPTER_DIR)
    assert A.resolve_adapter("auto", "embedded", "detect") == str(A.EMBEDDED_ADAPTER_DIR)  # detect reads the ReCoT line
    assert A.resolve_adapter("auto", "embedded", "direct") == str(A.EMBEDDED_DIRECT_ADAPTER_DIR)
    assert A.resolve_adapter("embedded", "HuggingFaceTB/SmolLM2-360M-Instruct", "direct") == str(A.EMBEDDED_DIRECT_ADAPTER_DIR)
    assert A.resolve_adapter("auto", "HuggingFaceTB/SmolLM2-360M-Instruct", "direct") is None  # another base: no adapter
    assert A.resolve_adapter("runs/x/adapter", "embedded", "direct") == "runs/x/adapter"
    assert A.resolve_adapter(None, "embedded", "direct") is None
    assert Rewriter(RewriterConfig(adapter="auto", mode="direct")).config.adapter == str(A.EMBEDDED_DIRECT_ADAPTER_DIR)
    assert set(A.ADAPTER_MODE_FOR) == set(MODES)  # every rewriter mode names the adapter format it needs
    with pytest.raises(RAQOError, match="unknown rewrite mode 'sideways'"):
        A.resolve_adapter("auto", "embedded", "sideways")


def test_embedded_without_a_packaged_adapter_names_the_folder(monkeypatch, tmp_path):
    monkeypatch.setattr(A, "EMBEDDED_DIRECT_ADAPTER_DIR", tmp_path / "missing")
    with pytest.raises(RAQOError, match=r"no embedded direct adapter is packaged at '.*missing'"):
        A.resolve_adapter("embedded", "embedded", "direct")
    assert A.resolve_adapter("auto", "embedded", "direct") is None
    assert A.resolve_adapter("auto", "embedded", "recot") == str(A.EMBEDDED_ADAPTER_DIR)  # the other is unaffected


@pytest.mark.parametrize(
    ("folder", "mode", "stages"),
    [("embedded_adapter", "recot", ["ccd", "qre", "pro"]), ("embedded_direct_adapter", "direct", ["qre", "pro"])],
)
def test_shipped_adapters_carry_their_recipe_and_fit_the_size_budget(folder: str, mode: str, stages: list[str]):
    d = A.EMBEDDED_ADAPTER_DIR.parent / folder
    meta = A.read_adapter_meta(d)
    assert meta["mode"] == mode and meta["recipe"]["mode"] == mode and meta["stages"] == stages
    assert meta["retriever"] == "embedded" and meta["retriever_fingerprint"].startswith("RAQO-Tiny-64@")
    cfg = json.loads((d / "adapter_config.json").read_text())
    assert cfg["peft_type"] == "LORA" and cfg["base_model_name_or_path"] == A.EMBEDDED_HUB_ID  # portable: no machine path
    size = sum(p.stat().st_size for p in d.iterdir())
    assert size <= 10 * 1024 * 1024, size
    assert (d / "README.md").read_text().startswith("# RAQO embedded")


def test_both_shipped_adapters_were_trained_for_the_same_retriever():
    a, b = (A.read_adapter_meta(d) for d in (A.EMBEDDED_ADAPTER_DIR, A.EMBEDDED_DIRECT_ADAPTER_DIR))
    assert a["retriever_fingerprint"] == b["retriever_fingerprint"]
    assert a["recipe"]["seed"] == b["recipe"]["seed"] and a["mpade_counts"] == b["mpade_counts"]  # one MPADE run, one seed


def test_check_adapter_mode_warns_only_on_a_format_mismatch():
    with pytest.warns(A.AdapterModeWarning, match="adapter 'x' was trained for mode 'recot' but the rewriter runs in mode 'direct'"):
        A.check_adapter_mode({"mode": "recot"}, "direct", "x")
    with pytest.warns(A.AdapterModeWarning, match="trained for mode 'direct' but the rewriter runs in mode 'detect'"):
        A.check_adapter_mode({"mode": "direct"}, "detect", "x")
    with warnings.catch_warnings():
        warnings.simplefilter("error", A.AdapterModeWarning)
        A.check_adapter_mode({"mode": "recot"}, "recot", "x")
        A.check_adapter_mode({"mode": "recot"}, "detect", "x")
        A.check_adapter_mode({"mode": "direct"}, "direct", "x")
        A.check_adapter_mode({}, "direct", "x")  # adapters without RAQO metadata: nothing to check


def test_loading_an_adapter_in_the_wrong_mode_warns(tiny_lm_dir, tiny_adapter, tmp_path: Path):
    direct = tmp_path / "direct_adapter"
    shutil.copytree(tiny_adapter, direct)
    (direct / A.META_NAME).write_text(json.dumps({"retriever_fingerprint": "RAQO-Tiny-64@aaaa", "mode": "direct"}))
    with pytest.warns(A.AdapterModeWarning, match="trained for mode 'direct'"):
        Rewriter(model=str(tiny_lm_dir), adapter=str(direct), mode="recot").load()
    with warnings.catch_warnings():
        warnings.simplefilter("error", A.AdapterModeWarning)
        rw = Rewriter(model=str(tiny_lm_dir), adapter=str(direct), mode="direct").load()
    assert rw.adapter_meta["mode"] == "direct"


def test_a_corrupt_adapter_is_one_error_naming_the_folder(tmp_path):
    import shutil

    from raqo_core.errors import RAQOError
    from raqo_core.rewriter.adapters import EMBEDDED_ADAPTER_DIR, load_adapter
    from raqo_core.rewriter.models import load_causal_lm

    bad = tmp_path / "adapter"
    shutil.copytree(EMBEDDED_ADAPTER_DIR, bad)
    data = (bad / "adapter_model.safetensors").read_bytes()
    (bad / "adapter_model.safetensors").write_bytes(data[:1000])  # a truncated download
    lm = load_causal_lm("embedded")
    with pytest.raises(RAQOError, match=rf"cannot load adapter '{bad}': SafetensorError: .*expected a peft LoRA folder"):
        load_adapter(lm.model, str(bad))


def test_trained_adapters_name_a_portable_base(tmp_path):
    from raqo_core.rewriter.adapters import make_portable

    (tmp_path / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "/root/.cache/raqo/models/x", "r": 8}))
    make_portable(tmp_path, "embedded")
    assert json.loads((tmp_path / "adapter_config.json").read_text()) == {"base_model_name_or_path": A.EMBEDDED_HUB_ID, "r": 8}
    make_portable(tmp_path, "Qwen/Qwen2.5-1.5B-Instruct")
    assert json.loads((tmp_path / "adapter_config.json").read_text())["base_model_name_or_path"] == "Qwen/Qwen2.5-1.5B-Instruct"
