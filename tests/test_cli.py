import json

from raqo_core.cli import main


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
