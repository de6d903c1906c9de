"""ONNX Runtime retriever backend (spec ``onnx:DIR``): CUDA when present, CPU otherwise.

The provider that actually runs is read back from ``session.get_providers()``:
onnxruntime-gpu lists CUDA as *available* on machines without a GPU and silently falls
back to the CPU, so RAQO reports what runs, never what was asked for.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from raqo_core.errors import RAQOError
from raqo_core.retriever.batching import TruncationCheck, check_images, check_texts, encode_in_batches, open_clip_token_count

logger = logging.getLogger(__name__)
PRECISIONS = ("fp32", "fp16", "int8")


def load(body: str, *, device: str = "cpu", **kwargs: Any) -> OnnxCLIPRetriever:
    """The registry's ``onnx`` entry: ``onnx:DIR``."""
    if not body:
        raise RAQOError("retriever spec 'onnx:' names no folder; expected 'onnx:DIR' (made by `raqo export-onnx`)")
    return OnnxCLIPRetriever(body, device=device, **kwargs)


class OnnxCLIPRetriever:
    """Runs the graphs written by :func:`raqo_core.retriever.onnx_export.export_onnx`.

    Args:
        path: the export folder.
        device: ``cpu`` or ``cuda[:N]``; CUDA is used only if onnxruntime-gpu can run it.
        precision: ``fp32``, ``fp16`` (meant for GPUs) or ``int8`` (dynamic quantisation, CPU).
        intra_op_threads: CPU threads per session (0 = onnxruntime's default).
        batch_size: default encoding batch size.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        device: str = "cpu",
        precision: str = "fp32",
        intra_op_threads: int = 0,
        batch_size: int = 64,
        strict_image_mode: bool = False,
    ) -> None:
        import onnxruntime as ort

        d = Path(path)
        manifest_path = d / "raqo_onnx.json"
        if not manifest_path.is_file():
            raise RAQOError(
                f"{str(d)!r} is not a RAQO ONNX export; expected raqo_onnx.json, image_encoder.onnx and "
                "text_encoder.onnx (make one with `raqo export-onnx --retriever SPEC --out DIR`)"
            )
        self.manifest = json.loads(manifest_path.read_text())
        if precision not in PRECISIONS:
            raise RAQOError(f"unknown ONNX precision {precision!r}; expected one of {PRECISIONS}")
        if precision not in self.manifest.get("variants", ["fp32"]):
            raise RAQOError(f"{str(d)!r} has no {precision} variant (has {self.manifest.get('variants')}); re-export with --{precision}")
        suffix = "" if precision == "fp32" else f".{precision}"
        files = {k: d / f"{k}_encoder{suffix}.onnx" for k in ("image", "text")}
        for f in files.values():
            if not f.is_file():
                raise RAQOError(f"ONNX export {str(d)!r} is missing {f.name}")
        want_cuda = device.startswith("cuda")
        providers: list[Any] = ["CPUExecutionProvider"]
        if want_cuda:
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                logger.warning("device %r asked, but this onnxruntime has no CUDA provider; running on the CPU", device)
            else:
                dev_id = int(device.split(":")[1]) if ":" in device else 0
                providers = [("CUDAExecutionProvider", {"device_id": dev_id}), "CPUExecutionProvider"]
        opts = ort.SessionOptions()
        # ORT 1.32's ENABLE_ALL (CPU layout transforms) segfaults on fp16 graphs on the CPU; EXTENDED is safe there.
        fp16_on_cpu = precision == "fp16" and len(providers) == 1
        opts.graph_optimization_level = (
            ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED if fp16_on_cpu else ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        )
        if intra_op_threads:
            opts.intra_op_num_threads = intra_op_threads
        try:
            self.image_session = ort.InferenceSession(str(files["image"]), sess_options=opts, providers=providers)
            self.text_session = ort.InferenceSession(str(files["text"]), sess_options=opts, providers=providers)
        except Exception as exc:
            raise RAQOError(f"cannot load ONNX graphs from {str(d)!r}: {exc}") from exc
        self.providers = self.text_session.get_providers()
        self.on_cuda = self.providers[0] == "CUDAExecutionProvider"
        if want_cuda and not self.on_cuda:
            logger.warning("CUDA asked but ONNX Runtime runs %s", self.providers[0])
        self.path = d
        self.precision = precision
        self.device = device if self.on_cuda else "cpu"
        self.batch_size = batch_size
        self.strict_image_mode = strict_image_mode
        self.spec = f"onnx:{d}"
        self.context_length = int(self.manifest["context_length"])
        self._dim = int(self.manifest["dim"])
        self._tokenizer: Any = None
        self._check_truncation = TruncationCheck(lambda text: open_clip_token_count(self.tokenizer)(text), self.context_length, self)
        self._preprocess: Any = None
        self._vocab_size = int(self.manifest.get("vocab_size") or 49408)
        self._eot: int | None = None

    # -- identity ------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        return self._dim

    @property
    def fingerprint(self) -> str:
        """The source model's fingerprint (same weights); lossy variants are marked."""
        fp = str(self.manifest["source_fingerprint"])
        return fp if self.precision == "fp32" else f"{fp}+{self.precision}"

    def describe(self) -> dict[str, Any]:
        return {
            "spec": self.spec,
            "fingerprint": self.fingerprint,
            "dim": self.dim,
            "backend": "onnxruntime",
            "provider": self.providers[0],
            "precision": self.precision,
        }

    # -- helpers -------------------------------------------------------------------------
    @property
    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            import open_clip

            self._tokenizer = open_clip.get_tokenizer(f"local-dir:{self.path.resolve()}")
            self._eot = int(getattr(self._tokenizer, "eot_token_id", 49407))
        return self._tokenizer

    @property
    def preprocess(self) -> Any:
        if self._preprocess is None:
            from open_clip.transform import PreprocessCfg, image_transform_v2

            cfg = json.loads((self.path / "open_clip_config.json").read_text()).get("preprocess_cfg", {})
            size = self.manifest["image_size"]
            pp = PreprocessCfg(**{**cfg, "size": tuple(size) if isinstance(size, list) else size})
            self._preprocess = image_transform_v2(pp, is_train=False)
        return self._preprocess

    def _run(self, session: Any, name: str, array: np.ndarray) -> np.ndarray:
        if self.on_cuda:  # IO binding: inputs copied once, outputs fetched once
            binding = session.io_binding()
            binding.bind_cpu_input(name, array)
            binding.bind_output(session.get_outputs()[0].name)
            session.run_with_iobinding(binding)
            out = binding.copy_outputs_to_cpu()[0]
        else:
            out = session.run(None, {name: array})[0]
        out = out.astype(np.float32, copy=False)
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)  # fp16/int8 drift

    def validate_token_ids(self, ids: np.ndarray) -> np.ndarray:
        """open_clip's text tower pools at ``argmax(input_ids)`` (the EOT token, the largest id),
        so only open_clip's own tokenizer ids are valid input."""
        _ = self.tokenizer
        ids = np.asarray(ids)
        if ids.ndim != 2 or ids.shape[1] != self.context_length:
            raise RAQOError(f"input_ids have shape {ids.shape}; expected [batch, {self.context_length}] from open_clip's tokenizer")
        if not np.issubdtype(ids.dtype, np.integer) or ids.min() < 0 or ids.max() >= self._vocab_size:
            raise RAQOError(f"input_ids must be int64 open_clip token ids in [0, {self._vocab_size})")
        bad = np.flatnonzero(ids.max(axis=1) != self._eot)
        if bad.size:
            raise RAQOError(
                f"input_ids rows {bad[:5].tolist()} have no EOT token ({self._eot}) as their largest id; "
                "the text tower pools at argmax(input_ids), so use open_clip's tokenizer"
            )
        return ids.astype(np.int64, copy=False)

    # -- encoding ------------------------------------------------------------------------
    def encode_token_ids(self, ids: np.ndarray, *, batch_size: int | None = None, progress: bool = False) -> np.ndarray:
        ids = self.validate_token_ids(ids)
        return encode_in_batches(
            len(ids),
            batch_size or self.batch_size,
            lambda a, b: self._run(self.text_session, "input_ids", ids[a:b]),
            progress=progress,
            desc="encoding texts (onnx)",
        )

    def encode_texts(self, texts: Sequence[str], *, batch_size: int | None = None, progress: bool = False) -> np.ndarray:
        texts = check_texts(texts)
        self._check_truncation(texts)
        return self.encode_token_ids(self.tokenizer(texts).numpy(), batch_size=batch_size, progress=progress)

    def encode_images(self, images: Sequence[Any], *, batch_size: int | None = None, progress: bool = False) -> np.ndarray:
        from raqo_core.data.images import open_rgb

        items = check_images(images)

        def batch(a: int, b: int) -> np.ndarray:
            pix = np.stack(
                [self.preprocess(open_rgb(items[i], what=f"images[{i}]", convert=not self.strict_image_mode)).numpy() for i in range(a, b)]
            ).astype(np.float32)
            return self._run(self.image_session, "pixel_values", pix)

        return encode_in_batches(len(items), batch_size or self.batch_size, batch, progress=progress, desc="encoding images (onnx)")
