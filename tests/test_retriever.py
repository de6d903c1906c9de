import numpy as np
import pytest
from PIL import Image

from raqo_core.errors import RAQOError
from raqo_core.retriever.base import Retriever, check_dim
from raqo_core.retriever.open_clip_backend import OpenCLIPRetriever
from raqo_core.retriever.registry import load_retriever

TEXTS = [f"a {c} {s} left of a small blue square" for c in ("red", "green", "pink") for s in ("circle", "star", "cross")]


def _imgs(n):
    rng = np.random.default_rng(1)
    return [Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)) for _ in range(n)]


def test_protocol_shapes_and_normalisation(random_retriever):
    r = random_retriever
    assert isinstance(r, Retriever)
    t = r.encode_texts(TEXTS)
    i = r.encode_images(_imgs(5))
    assert t.shape == (9, r.dim) and i.shape == (5, r.dim) and r.dim == 128
    assert t.dtype == np.float32 and i.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(t, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(i, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("bs", [1, 4, 32])
def test_batch_equivalence(random_retriever, bs):
    full_t = random_retriever.encode_texts(TEXTS, batch_size=64)
    full_i = random_retriever.encode_images(_imgs(9), batch_size=64)
    np.testing.assert_allclose(random_retriever.encode_texts(TEXTS, batch_size=bs), full_t, atol=1e-5)
    np.testing.assert_allclose(random_retriever.encode_images(_imgs(9), batch_size=bs), full_i, atol=1e-5)


def test_paths_and_image_modes(random_retriever, tmp_path):
    img = _imgs(1)[0]
    img.save(tmp_path / "x.png")
    base = random_retriever.encode_images([img])
    np.testing.assert_allclose(random_retriever.encode_images([tmp_path / "x.png"]), base, atol=1e-6)
    rgba = img.convert("RGBA")
    np.testing.assert_allclose(random_retriever.encode_images([rgba]), base, atol=1e-5)  # opaque alpha → same pixels
    assert random_retriever.encode_images([img.convert("L")]).shape == (1, 128)
    strict = OpenCLIPRetriever("RAQO-Tiny-64", strict_image_mode=True)
    with pytest.raises(RAQOError, match=r"images\[0\]: image mode 'L' is not supported here; expected 'RGB'"):
        strict.encode_images([img.convert("L")])
    (tmp_path / "bad.png").write_bytes(b"garbage")
    with pytest.raises(RAQOError, match=r"bad.png': cannot decode image"):
        random_retriever.encode_images([tmp_path / "bad.png"])


def test_bad_inputs(random_retriever):
    with pytest.raises(RAQOError, match="empty list"):
        random_retriever.encode_texts([])
    with pytest.raises(RAQOError, match="single string"):
        random_retriever.encode_texts("a red circle")
    with pytest.raises(RAQOError, match="empty list"):
        random_retriever.encode_images([])
    with pytest.raises(RAQOError, match=r"shape \(2, 64\); expected \[n, 128\]"):
        check_dim(np.zeros((2, 64)), 128)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("clip:ViT-B-32", r"unknown retriever spec 'clip:ViT-B-32'; expected 'embedded', 'open_clip:MODEL/TAG'"),
        ("open_clip:NoSuchNet/openai", r"unknown open_clip model 'NoSuchNet'"),
        ("open_clip:RAQO-Tiny-64/openai", r"unknown pretrained tag 'openai' for 'RAQO-Tiny-64'"),
        ("", "non-empty string"),
    ],
)
def test_unknown_specs(spec, message):
    with pytest.raises(RAQOError, match=message):
        load_retriever(spec)


def test_local_folder_round_trip_and_fingerprint(random_retriever, tmp_path):
    random_retriever.save_local(tmp_path / "ckpt")
    loaded = load_retriever(str(tmp_path / "ckpt"))
    np.testing.assert_allclose(loaded.encode_texts(TEXTS), random_retriever.encode_texts(TEXTS), atol=1e-6)
    assert loaded.fingerprint.split("@")[1] == random_retriever.fingerprint.split("@")[1]
    other = OpenCLIPRetriever("RAQO-Tiny-64", seed=1)
    assert other.fingerprint != random_retriever.fingerprint
    with pytest.raises(RAQOError, match="is not an open_clip checkpoint folder"):
        load_retriever(str(tmp_path))


def test_truncation_warning(random_retriever, caplog):
    long = " ".join(["crimson"] * 60)
    assert random_retriever.count_tokens(long) > random_retriever.context_length
    fresh = OpenCLIPRetriever("RAQO-Tiny-64")
    with caplog.at_level("WARNING"):
        fresh.encode_texts([long])
    assert "exceed the 40-token context" in caplog.text


def test_a_third_party_backend_is_one_registration(random_retriever, monkeypatch):
    """A new backend: a loader plus one register_retriever line; its spec resolves like the built-ins."""
    from raqo_core.retriever import registry

    seen = {}

    def load(body, *, device="cpu", **kw):
        seen.update(body=body, device=device, **kw)
        return random_retriever

    monkeypatch.setattr(registry, "LOADERS", registry.LOADERS.copy())
    registry.register_retriever("mine", load)
    assert load_retriever("mine:models/x", device="cuda:1", batch_size=8) is random_retriever
    assert seen == {"body": "models/x", "device": "cuda:1", "batch_size": 8}
    assert "mine" in registry.retriever_prefixes()
    with pytest.raises(RAQOError, match="'mine:…' or the path"):
        load_retriever("nope:x")
    with pytest.raises(RAQOError, match="no ':'"):
        registry.register_retriever("a:b", load)


def test_shared_retriever_loads_once_under_concurrent_first_calls(monkeypatch, random_retriever):
    import threading
    import time

    from raqo_core.retriever import registry

    calls = []

    def slow(spec, device="cpu"):
        calls.append(spec)
        time.sleep(0.2)
        return random_retriever

    monkeypatch.setattr(registry, "load_retriever", slow)
    monkeypatch.setattr(registry, "_SHARED", {})
    got = []
    threads = [threading.Thread(target=lambda: got.append(registry.shared_retriever("x"))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == ["x"] and len(got) == 4 and all(g is random_retriever for g in got)


def test_batching_helper_checks_and_concatenates():
    from raqo_core.retriever.batching import check_images, check_texts, encode_in_batches

    spans = []
    out = encode_in_batches(5, 2, lambda a, b: spans.append((a, b)) or np.full((b - a, 3), a, dtype=np.float64))
    assert spans == [(0, 2), (2, 4), (4, 5)] and out.dtype == np.float32 and out.flags["C_CONTIGUOUS"]
    assert out[:, 0].tolist() == [0, 0, 2, 2, 4]
    with pytest.raises(RAQOError, match="single string 'abc'"):
        check_texts("abc")
    with pytest.raises(RAQOError, match=r"texts\[1\] must be a string, got int"):
        check_texts(["a", 3])
    with pytest.raises(RAQOError, match="encode_images got an empty list"):
        check_images([])
    with pytest.raises(RAQOError, match="a single str"):
        check_images("cat.png")
