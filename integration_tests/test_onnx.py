"""ONNX export + ONNX Runtime backend against the torch retriever (real onnxruntime sessions)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from raqo_core.cli import main
from raqo_core.errors import RAQOError
from raqo_core.retriever.onnx_backend import OnnxCLIPRetriever
from raqo_core.retriever.onnx_export import export_onnx
from raqo_core.retriever.registry import load_retriever

pytestmark = pytest.mark.integration
TEXTS = [
    f"a {s} {c} {sh} {r} a {c2} square"
    for s in ("large", "tiny")
    for c in ("red", "crimson", "ebony")
    for sh in ("circle", "orb")
    for r in ("left of", "beneath")
    for c2 in ("blue", "azure")
][:32]


def _images(n, size=64):
    rng = np.random.default_rng(7)
    return [Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)) for _ in range(n)]


@pytest.fixture(scope="module")
def embedded_export(tmp_path_factory):
    out = tmp_path_factory.mktemp("onnx_embedded")
    manifest = export_onnx("embedded", out, int8=True, fp16=True)
    return out, manifest


@pytest.mark.parametrize("bs", [1, 7, 32])
def test_fp32_parity_embedded(embedded_export, bs):
    out, manifest = embedded_export
    torch_r = load_retriever("embedded")
    ort_r = OnnxCLIPRetriever(out)
    assert ort_r.providers[0] == "CPUExecutionProvider" and ort_r.fingerprint == torch_r.fingerprint
    t = (ort_r.encode_texts(TEXTS[:bs], batch_size=bs) * torch_r.encode_texts(TEXTS[:bs])).sum(1)
    i = (ort_r.encode_images(_images(bs), batch_size=bs) * torch_r.encode_images(_images(bs))).sum(1)
    assert t.min() >= 0.99999 and i.min() >= 0.99999
    assert manifest["parity"]["fp32"]["text_min_cos"] >= 0.99999
    assert manifest["exporter"] == {"image": "dynamo", "text": "dynamo"} or "legacy" in manifest["exporter"].values()


def test_recall_identical_through_raqo_eval_and_int8_tolerance(embedded_export, tmp_path):
    from raqo_core.paths import embedded_benchmark_dir

    out, _ = embedded_export
    data = str(embedded_benchmark_dir(0))
    res = {}
    for name, spec in (("torch", "embedded"), ("onnx", f"onnx:{out}")):
        js = tmp_path / f"{name}.json"
        assert (
            main(["eval", "--data", data, "--retriever", spec, "--register", "user", "--limit", "1000", "--json", str(js), "--quiet"]) == 0
        )
        res[name] = json.loads(js.read_text())
    for d in ("t2i", "i2t"):
        for k in ("R@1", "R@5", "R@10"):
            assert res["onnx"][d][k] == pytest.approx(res["torch"][d][k], abs=0.11)  # ≤ 1 query of 1000 flips on float ties
    from raqo_core.evaluation.evaluate import EvalSetup, evaluate

    int8 = evaluate(data, OnnxCLIPRetriever(out, precision="int8"), EvalSetup(register="user", limit=1000, progress=False))
    assert int8["fingerprint"].endswith("+int8")
    assert abs(int8["t2i"]["R@1"] - res["torch"]["t2i"]["R@1"]) <= 1.5  # stated tolerance for int8 (see benchmarks/)


def test_fp16_variant_runs_close(embedded_export):
    out, _ = embedded_export
    r16, r32 = OnnxCLIPRetriever(out, precision="fp16"), OnnxCLIPRetriever(out)
    assert (r16.encode_texts(TEXTS[:5]) * r32.encode_texts(TEXTS[:5])).sum(1).min() > 0.999


def test_bad_dirs_and_token_ids(embedded_export, tmp_path):
    out, _ = embedded_export
    with pytest.raises(RAQOError, match="is not a RAQO ONNX export; expected raqo_onnx.json"):
        OnnxCLIPRetriever(tmp_path)
    with pytest.raises(RAQOError, match="unknown ONNX precision 'int4'"):
        OnnxCLIPRetriever(out, precision="int4")
    with pytest.raises(RAQOError, match=r"unknown retriever spec|not a RAQO ONNX export"):
        load_retriever(f"onnx:{tmp_path / 'missing'}")
    r = OnnxCLIPRetriever(out)
    ids = r.tokenizer(["a red circle"]).numpy()
    np.testing.assert_allclose(r.encode_token_ids(ids), r.encode_texts(["a red circle"]), atol=1e-6)
    bad = ids.copy()
    bad[0, 5] = 49407 + 0  # a second EOT is fine; now break pooling:
    bad[0, :] = 5
    with pytest.raises(RAQOError, match="no EOT token"):
        r.encode_token_ids(bad)
    with pytest.raises(RAQOError, match=r"expected \[batch, 40\]"):
        r.encode_token_ids(ids[:, :10])
    cuda = OnnxCLIPRetriever(out, device="cuda")  # no GPU here: reports what actually runs
    assert cuda.providers[0] == "CPUExecutionProvider" and cuda.device == "cpu"


@pytest.mark.slow
def test_vit_b_32_random_weights_parity(tmp_path):
    from raqo_core.retriever.open_clip_backend import OpenCLIPRetriever

    src = OpenCLIPRetriever("ViT-B-32", seed=0)
    manifest = export_onnx(src, tmp_path, parity_batch=7)
    r = OnnxCLIPRetriever(tmp_path)
    for bs in (1, 7, 32):
        texts = TEXTS[:bs]
        assert (r.encode_texts(texts) * src.encode_texts(texts)).sum(1).min() >= 0.99999
        imgs = _images(bs, 224)
        assert (r.encode_images(imgs, batch_size=bs) * src.encode_images(imgs)).sum(1).min() >= 0.99999
    assert manifest["parity"]["fp32"]["image_min_cos"] >= 0.99999


def test_onnx_texts_warn_on_truncation_and_show_progress(embedded_export, caplog, capsys):
    """The ONNX backend shares the torch backend's batching: a progress bar over batches, a truncation warning."""
    out, _ = embedded_export
    r = OnnxCLIPRetriever(out, batch_size=4)
    long = " ".join(["crimson"] * 80)
    with caplog.at_level("WARNING"):
        emb = r.encode_texts(TEXTS[:9] + [long], progress=True)
    assert emb.shape == (10, r.dim) and "exceed the" in caplog.text and "onnx:" in caplog.text
    assert "encoding texts (onnx)" in capsys.readouterr().err
    torch_r = load_retriever("embedded")
    np.testing.assert_allclose(emb[:9], torch_r.encode_texts(TEXTS[:9]), atol=1e-4)
