"""Export an open_clip retriever's image and text towers to ONNX, with a parity check.

``raqo export-onnx --retriever SPEC --out DIR [--fp16] [--int8]`` writes::

    DIR/image_encoder.onnx   pixel_values [batch, 3, H, W] float32 -> image_embeds [batch, dim] (L2-normalised)
    DIR/text_encoder.onnx    input_ids    [batch, context] int64   -> text_embeds  [batch, dim] (L2-normalised)
    DIR/*.fp16.onnx, DIR/*.int8.onnx      optional variants
    DIR/open_clip_config.json             model + preprocessing config (rebuilds the tokenizer and transform)
    DIR/raqo_onnx.json                    manifest: source spec + fingerprint, opset, exporter, parity figures

The torch dynamo exporter (needs ``onnxscript``) is tried first; the legacy TorchScript
exporter at opset 17 is the fallback. Both graphs have a dynamic batch axis.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from raqo_core.errors import RAQOError

logger = logging.getLogger(__name__)
MANIFEST = "raqo_onnx.json"
OPSET = 17
PARITY_TEXTS = [
    "a large solid red circle left of a small outline blue square",
    "a crimson orb",
    "i'm looking for a picture showing a giant filled emerald lozenge above a tiny jet block",
    "two dogs playing in the snow",
    "a",
    "a photo of a cat sitting on a wooden table next to a window with the sun shining",
    "an azure star",
]


def _wrappers(model: Any) -> tuple[Any, Any]:
    import torch

    class ImageTower(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.m = model

        def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
            return self.m.encode_image(pixel_values, normalize=True)

    class TextTower(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.m = model

        def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
            return self.m.encode_text(input_ids, normalize=True)

    return ImageTower().eval(), TextTower().eval()


def _export_one(module: Any, example: Any, path: Path, in_name: str, out_name: str, prefer_dynamo: bool) -> str:
    import torch

    if prefer_dynamo:
        try:
            batch = torch.export.Dim("batch", min=1, max=4096)
            prog = torch.onnx.export(
                module,
                (example,),
                dynamo=True,
                input_names=[in_name],
                output_names=[out_name],
                dynamic_shapes={"pixel_values" if in_name == "pixel_values" else "input_ids": {0: batch}},
                opset_version=18,
                external_data=False,
                verbose=False,
            )
            if prog is None:
                raise RuntimeError("the dynamo exporter returned no program")
            prog.save(str(path))
            return "dynamo"
        except Exception as exc:  # the legacy exporter handles what dynamo cannot
            logger.warning(
                "dynamo ONNX export failed (%s: %s); falling back to the legacy exporter at opset %d",
                type(exc).__name__,
                str(exc)[:200],
                OPSET,
            )
    torch.onnx.export(
        module,
        (example,),
        str(path),
        input_names=[in_name],
        output_names=[out_name],
        dynamic_axes={in_name: {0: "batch"}, out_name: {0: "batch"}},
        opset_version=OPSET,
        dynamo=False,
    )
    return "legacy"


def export_onnx(
    spec: str | Any,
    out: str | Path,
    *,
    fp16: bool = False,
    int8: bool = False,
    prefer_dynamo: bool = True,
    parity_batch: int = 7,
) -> dict[str, Any]:
    """Export ``spec`` (a spec string or a loaded :class:`OpenCLIPRetriever`) into ``out``."""
    import onnx
    import torch

    from raqo_core.io import atomic_write_json
    from raqo_core.retriever.open_clip_backend import OpenCLIPRetriever, register_model_configs
    from raqo_core.retriever.registry import load_retriever

    src = load_retriever(spec) if isinstance(spec, str) else spec
    if not isinstance(src, OpenCLIPRetriever):
        raise RAQOError(f"ONNX export needs an open_clip retriever, got {type(src).__name__} ({getattr(src, 'spec', spec)!r})")
    register_model_configs()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model = src.model.float().eval()
    img_tower, txt_tower = _wrappers(model)
    size = model.visual.image_size
    h, w = (size, size) if isinstance(size, int) else size
    t0 = time.time()
    with torch.no_grad():
        ex_img = torch.randn(2, 3, h, w)
        ex_txt = src.tokenize(PARITY_TEXTS[:2])
        exporter_img = _export_one(img_tower, ex_img, out / "image_encoder.onnx", "pixel_values", "image_embeds", prefer_dynamo)
        exporter_txt = _export_one(txt_tower, ex_txt, out / "text_encoder.onnx", "input_ids", "text_embeds", prefer_dynamo)
    for name in ("image_encoder.onnx", "text_encoder.onnx"):
        onnx.checker.check_model(str(out / name))
    # The config that rebuilds open_clip's tokenizer and preprocessing without the weights.
    import open_clip

    cfg = open_clip.get_model_config(src.model_name)
    pp = dict(getattr(model.visual, "preprocess_cfg", {}) or {})
    atomic_write_json(out / "open_clip_config.json", {"model_cfg": cfg, "preprocess_cfg": json.loads(json.dumps(pp, default=list))})
    variants = ["fp32"]
    if fp16:
        from onnxruntime.transformers.float16 import convert_float_to_float16

        for name in ("image_encoder", "text_encoder"):
            m16 = convert_float_to_float16(onnx.load(str(out / f"{name}.onnx")), keep_io_types=True)
            onnx.save(m16, str(out / f"{name}.fp16.onnx"))
        variants.append("fp16")
    if int8:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        for name in ("image_encoder", "text_encoder"):
            quantize_dynamic(str(out / f"{name}.onnx"), str(out / f"{name}.int8.onnx"), weight_type=QuantType.QInt8)
        variants.append("int8")
    manifest: dict[str, Any] = {
        "format": "raqo-onnx-clip/1",
        "source_spec": src.spec,
        "source_fingerprint": src.fingerprint,
        "model_name": src.model_name,
        "dim": src.dim,
        "context_length": src.context_length,
        "vocab_size": int((cfg or {}).get("text_cfg", {}).get("vocab_size", 49408)),
        "image_size": [h, w],
        "exporter": {"image": exporter_img, "text": exporter_txt},
        "opset": OPSET if "legacy" in (exporter_img, exporter_txt) else 18,
        "variants": variants,
        "torch": torch.__version__,
        "export_seconds": round(time.time() - t0, 1),
    }
    atomic_write_json(out / MANIFEST, manifest)
    manifest["parity"] = measure_parity(src, out, variants, batch=parity_batch)
    atomic_write_json(out / MANIFEST, manifest)
    return manifest


def measure_parity(src: Any, out: Path, variants: list[str], batch: int = 7) -> dict[str, Any]:
    """Minimum cosine between torch and ONNX Runtime embeddings, per variant (CPU provider)."""
    from raqo_core.retriever.onnx_backend import OnnxCLIPRetriever

    rng = np.random.default_rng(0)
    from PIL import Image

    h = src.model.visual.image_size
    hh = h if isinstance(h, int) else h[0]
    imgs = [Image.fromarray(rng.integers(0, 255, (hh, hh, 3), dtype=np.uint8)) for _ in range(batch)]
    texts = (PARITY_TEXTS * (batch // len(PARITY_TEXTS) + 1))[:batch]
    t_ref, i_ref = src.encode_texts(texts), src.encode_images(imgs)
    res: dict[str, Any] = {"batch": batch}
    for v in variants:
        ort = OnnxCLIPRetriever(out, precision=v, device="cpu")
        res[v] = {
            "text_min_cos": float((ort.encode_texts(texts) * t_ref).sum(1).min()),
            "image_min_cos": float((ort.encode_images(imgs) * i_ref).sum(1).min()),
        }
    return res
