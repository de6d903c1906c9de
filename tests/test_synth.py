import hashlib
import json

import pytest

from raqo_core.data.manifest import load_manifest
from raqo_core.data.synth import SynthConfig, generate, held_out_vocabulary
from raqo_core.errors import RAQOError


def _digest(d):
    h = hashlib.sha256((d / "manifest.jsonl").read_bytes())
    for p in sorted((d / "images").iterdir()):
        h.update(p.read_bytes())
    return h.hexdigest()


def test_deterministic_per_seed(tmp_path):
    cfg = SynthConfig(seed=5, n_train=20, n_val=3, n_test=10)
    generate(tmp_path / "a", cfg, progress=False)
    generate(tmp_path / "b", cfg, progress=False)
    generate(tmp_path / "c", SynthConfig(seed=6, n_train=20, n_val=3, n_test=10), progress=False)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")
    assert json.loads((tmp_path / "a" / "benchmark.json").read_text())["seed"] == 5


def test_splits_registers_and_held_out_vocabulary(tiny_bench):
    m = load_manifest(tiny_bench, check_images="decode")
    assert [len(m.split(s)) for s in ("train", "val", "test")] == [48, 8, 40]
    held = held_out_vocabulary()
    train_words = {w for r in m.split("train") for c in r.captions for w in c.replace(",", "").split()}
    held_single = {w for w in held if " " not in w}
    assert not (train_words & held_single), "held-out rare forms must never appear in training captions"
    for r in m.split("test"):
        assert len(r.captions) == 5 and len(r.texts("user")) == 5 and len(r.texts("transfer")) == 2
        assert r.texts("oracle") == r.captions  # plain test captions are the oracle
        assert all(any(h in t for h in held) for t in r.texts("transfer"))
    user_rare = sum(t not in r.captions for r in m.split("test") for t in r.texts("user"))
    assert user_rare == 5 * 40  # every user query differs from its plain wording


def test_captions_fit_the_text_context(tiny_bench, random_retriever):
    m = load_manifest(tiny_bench)
    longest = max(random_retriever.count_tokens(t) for r in m.records for reg in ("captions", "user") for t in r.texts(reg))
    assert longest <= random_retriever.context_length


def test_config_validation():
    with pytest.raises(RAQOError, match=r"SynthConfig.user_rare_rate must be in \[0, 1\], got 1.5"):
        SynthConfig(user_rare_rate=1.5).validate()
    with pytest.raises(RAQOError, match="image_size must be >= 32"):
        SynthConfig(image_size=8).validate()
