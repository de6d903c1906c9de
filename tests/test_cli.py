import json

import pytest

from raqo_core.cli import main
from raqo_core.errors import RAQOError


def test_synth_validate_eval(tmp_path, capsys, random_retriever):
    out = tmp_path / "b"
    assert main(["data", "synth", "--out", str(out), "--n-train", "4", "--n-val", "2", "--n-test", "12", "--quiet"]) == 0
    assert main(["data", "validate", str(out), "--decode"]) == 0
    info = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert info["splits"] == {"train": 4, "val": 2, "test": 12} and "transfer" in info["registers"]
    random_retriever.save_local(tmp_path / "ckpt")
    js = tmp_path / "r.json"
    rc = main(["eval", "--data", str(out), "--retriever", str(tmp_path / "ckpt"), "--register", "user", "--json", str(js), "--quiet"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "| setting | T2I R@1 |" in printed
    res = json.loads(js.read_text())
    assert set(res["t2i"]) == {"R@1", "R@5", "R@10"} and res["n_queries"] == {"t2i": 60, "i2t": 12}
    assert res["register"] == "user"


def test_errors_exit_2_with_message(tmp_path, capsys):
    assert main(["eval", "--data", str(tmp_path), "--retriever", "embedded"]) == 2
    assert "raqo: error: no dataset manifest at" in capsys.readouterr().err
    assert main(["retriever", "info", "nonsense:thing"]) == 2
    assert "unknown retriever spec 'nonsense:thing'" in capsys.readouterr().err
    assert main(["mpade", "--data", str(tmp_path), "--out", str(tmp_path / "m"), "--concepts", "diff"]) == 2
    assert "concepts must be one of 'agent', 'edits', 'changed'; got 'diff'" in capsys.readouterr().err
    assert main(["mpade", "--data", str(tmp_path), "--out", str(tmp_path / "m"), "--perturb-ratio", "-1"]) == 2
    assert "perturb_ratio must be a finite number >= 0 or None, got -1.0" in capsys.readouterr().err


def test_eval_with_rewriter_caches_rewrites_on_disk(tmp_path, capsys, random_retriever, tiny_bench, monkeypatch):
    monkeypatch.setenv("RAQO_CACHE", str(tmp_path / "cache"))
    random_retriever.save_local(tmp_path / "ckpt")
    from raqo_core.rewriter import baselines

    calls = []
    real = baselines.WordNetExpansion.rewrite_batch
    monkeypatch.setattr(baselines.WordNetExpansion, "rewrite_batch", lambda self, qs, bs=None: calls.append(len(qs)) or real(self, qs, bs))
    args = [
        "eval",
        "--data",
        str(tiny_bench),
        "--retriever",
        str(tmp_path / "ckpt"),
        "--register",
        "user",
        "--rewriter",
        "wordnet",
        "--quiet",
    ]
    assert main([*args, "--json", str(tmp_path / "a.json")]) == 0
    assert calls and sum(calls) == 200  # 200 distinct user queries rewritten once (queries and gallery share the cache)
    assert main([*args, "--json", str(tmp_path / "b.json")]) == 0
    assert sum(calls) == 200  # the re-run cost nothing
    a, b = (json.loads((tmp_path / f).read_text()) for f in ("a.json", "b.json"))
    assert a["t2i"] == b["t2i"] and a["rewriter"]["name"] == "wordnet"
    assert list((tmp_path / "cache" / "rewrites").glob("*.jsonl"))


def test_rewrite_command(capsys):
    assert main(["rewrite", "a crimson orb", "", "--rewriter", "wordnet", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res[0]["applied"] and res[0]["original_query"] == "a crimson orb" and res[1]["reason"] == "empty query"
    assert main(["rewrite", "a crimson orb", "--rewriter", "wordnet"]) == 0
    out = capsys.readouterr().out
    assert "concepts: crimson, orb" in out and "applied:  True (rewritten)" in out


def test_rewrite_command_grounding_flag(capsys, tiny_lm_dir, monkeypatch):
    from raqo_core.rewriter import factory

    built = []
    real = factory.build_rewriter
    monkeypatch.setattr(factory, "build_rewriter", lambda *a, **kw: built.append(real(*a, **kw)) or built[-1])
    for flags in ([], ["--ungrounded"]):
        assert main(["rewrite", "a crimson orb", "--model", str(tiny_lm_dir), "--adapter", "", "--json", *flags]) == 0
        assert json.loads(capsys.readouterr().out)[0]["original_query"] == "a crimson orb"
    assert [rw.config.grounded_concepts for rw in built] == [True, False]


def test_version_and_typed_packages(capsys):
    from importlib.metadata import version
    from pathlib import Path

    import raqo_core
    import raqo_haystack
    import raqo_llamaindex

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.strip() == f"raqo {version('raqo')}"
    for pkg in (raqo_core, raqo_haystack, raqo_llamaindex):
        assert (Path(pkg.__file__).parent / "py.typed").is_file(), pkg.__name__


def test_a_missing_optional_dependency_is_one_line_naming_the_extra(monkeypatch, capsys):
    from raqo_core.cli import rewrite

    def missing(a):
        raise ModuleNotFoundError("No module named 'llama_cpp'", name="llama_cpp")

    monkeypatch.setattr(rewrite, "run", missing)
    assert main(["rewrite", "a query"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "raqo: error: No module named 'llama_cpp'; pip install 'raqo[llamacpp]'" and "\n" not in err


def test_cli_defaults_come_from_the_configs():
    from raqo_core.cli import build_parser
    from raqo_core.mpade.config import MPADEConfig
    from raqo_core.rewriter.rewriter import RewriterConfig

    p = build_parser()
    mp = p.parse_args(["mpade", "--data", "d", "--out", "o"])
    cfg = MPADEConfig()
    assert (mp.rounds, mp.filter_threshold, mp.concepts, mp.register, mp.limit) == (
        cfg.rounds,
        cfg.filter_threshold,
        cfg.concepts,
        cfg.register,
        None,
    )
    ev = p.parse_args(["eval", "--data", "d"])
    assert (ev.model, ev.adapter, ev.mode, ev.backend) == (RewriterConfig.model, "auto", RewriterConfig.mode, RewriterConfig.backend)
    assert p.parse_args(["mpade", "--data", "d", "--out", "o", "--perturb-ratio", "0.25"]).perturb_ratio == 0.25


def test_user_errors_are_one_line_naming_the_file(tmp_path, capsys):
    """A decompression-bomb PNG, a corrupt adapter, a malformed raqo_adapter.json: one line each, no traceback."""
    import shutil

    from PIL import Image

    from raqo_core.rewriter.adapters import EMBEDDED_ADAPTER_DIR, read_adapter_meta

    Image.new("1", (15000, 15000)).save(tmp_path / "bomb.png")  # 225 M pixels: PIL refuses to decode it
    (tmp_path / "manifest.jsonl").write_text(json.dumps({"image_id": "b", "image": "bomb.png", "captions": ["x"], "split": "test"}) + "\n")
    assert main(["data", "validate", str(tmp_path), "--decode"]) == 2
    err = capsys.readouterr().err.strip()
    assert "bomb.png" in err and "cannot decode image" in err and "decompression bomb" in err.lower() and "\n" not in err
    bad = tmp_path / "adapter"
    shutil.copytree(EMBEDDED_ADAPTER_DIR, bad)
    (bad / "raqo_adapter.json").write_text("{not json")
    with pytest.raises(RAQOError, match=r"raqo_adapter.json': malformed JSON .* expected the raqo_adapter.json that `raqo train` writes"):
        read_adapter_meta(bad)


def test_a_full_disk_is_one_line(monkeypatch, capsys, tmp_path):
    import errno

    from raqo_core.cli import data

    def full(a):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "out" / "images"))

    monkeypatch.setattr(data, "synth", full)
    assert main(["data", "synth", "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.strip() == f"raqo: error: [Errno 28] No space left on device: '{tmp_path / 'out' / 'images'}'"
