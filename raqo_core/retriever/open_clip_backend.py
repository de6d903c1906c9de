"""open_clip backend: any open_clip model (name + pretrained tag, ``hf-hub:``, local folder)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from raqo_core.errors import RAQOError
from raqo_core.retriever.batching import TruncationCheck, check_images, check_texts, encode_in_batches, open_clip_token_count

logger = logging.getLogger(__name__)

_CONFIG_DIR = Path(__file__).parent / "model_configs"
_registered = False


def register_model_configs() -> None:
    """Make RAQO's own model configs (``RAQO-Tiny-64``) known to open_clip's factory."""
    global _registered
    if not _registered:
        import open_clip

        open_clip.add_model_config(_CONFIG_DIR)
        _registered = True


def load(body: str, *, device: str = "cpu", **kwargs: Any) -> OpenCLIPRetriever:
    """The registry's ``open_clip`` entry: ``MODEL/TAG``, ``MODEL`` (random weights), ``hf-hub:org/repo`` or ``local-dir:PATH``."""
    if body.startswith("local-dir:"):
        return OpenCLIPRetriever.from_local(body[len("local-dir:") :], device=device, **kwargs)
    if body.startswith("hf-hub:"):
        return OpenCLIPRetriever(body, device=device, **kwargs)
    model, _, tag = body.partition("/")
    if not model:
        raise RAQOError(f"retriever spec 'open_clip:{body}' names no model; expected 'open_clip:MODEL/TAG', e.g. open_clip:ViT-B-32/openai")
    return OpenCLIPRetriever(model, pretrained=tag or None, device=device, **kwargs)


class OpenCLIPRetriever:
    """A CLIP-style dual encoder loaded through open_clip's factory.

    Args:
        model_name: an open_clip model name (``ViT-B-32``), ``hf-hub:org/repo`` or ``local-dir:PATH``.
        pretrained: a pretrained tag (``openai``, ``laion2b_s34b_b79k``) or a checkpoint file;
            ``None`` gives random weights (handy for tests and benchmarks).
        device: ``cpu``, ``cuda``, ``cuda:1`` ….
        batch_size: default batch size for encoding.
        precision: open_clip precision (``fp32``, ``fp16``, ``bf16``).
        strict_image_mode: raise on non-RGB images instead of converting them.
        seed: torch seed used before building a randomly initialised model.
    """

    def __init__(
        self,
        model_name: str,
        *,
        pretrained: str | None = None,
        device: str = "cpu",
        batch_size: int = 64,
        precision: str = "fp32",
        strict_image_mode: bool = False,
        seed: int | None = 0,
        cache_dir: str | None = None,
    ) -> None:
        import open_clip
        import torch

        if batch_size < 1:
            raise RAQOError(f"batch_size must be >= 1, got {batch_size}")
        register_model_configs()
        schema = model_name.split(":", 1)[0] if ":" in model_name else None
        if schema is None and model_name not in open_clip.list_models():
            raise RAQOError(
                f"unknown open_clip model {model_name!r}; expected one of open_clip.list_models() "
                "(e.g. 'ViT-B-32'), 'hf-hub:org/repo' or 'local-dir:PATH'"
            )
        if pretrained and schema is None and not Path(pretrained).is_file():
            tags = open_clip.list_pretrained_tags_by_model(model_name)
            if pretrained not in tags:
                raise RAQOError(f"unknown pretrained tag {pretrained!r} for {model_name!r}; expected one of {tags} or a checkpoint file")
        if seed is not None and not pretrained and schema is None:
            torch.manual_seed(seed)
        try:
            model, _, preprocess = open_clip.create_model_and_transforms(
                model_name, pretrained=pretrained, device=device, precision=precision, cache_dir=cache_dir
            )
        except (FileNotFoundError, RuntimeError, ValueError, OSError) as exc:
            raise RAQOError(f"cannot load open_clip model {model_name!r} (pretrained={pretrained!r}): {exc}") from exc
        model.eval()
        self.model = model
        self.preprocess: Callable[[Any], Any] = preprocess
        self.tokenizer = open_clip.get_tokenizer(model_name, cache_dir=cache_dir)
        self.model_name = model_name
        self.pretrained = pretrained
        self.device = device
        self.batch_size = batch_size
        self.strict_image_mode = strict_image_mode
        self.context_length = int(getattr(model, "context_length", 77) or 77)
        tag = f"/{pretrained}" if pretrained else ""
        self.spec = model_name if schema == "local-dir" else f"open_clip:{model_name}{tag}"
        self._fingerprint: str | None = None
        self._dim = (
            int(model.text_projection.shape[1])
            if hasattr(model, "text_projection") and model.text_projection is not None and model.text_projection.ndim == 2
            else None
        )
        self._check_truncation = TruncationCheck(self.count_tokens, self.context_length, self)

    @classmethod
    def from_local(cls, path: str | os.PathLike[str], **kwargs: Any) -> OpenCLIPRetriever:
        """Load a local open_clip checkpoint folder (``open_clip_config.json`` + weights)."""
        p = Path(path)
        if not p.is_dir() or not (p / "open_clip_config.json").is_file():
            raise RAQOError(
                f"{str(p)!r} is not an open_clip checkpoint folder; expected a folder with open_clip_config.json "
                "and open_clip_model.safetensors (or open_clip_pytorch_model.bin)"
            )
        return cls(f"local-dir:{p.resolve()}", **kwargs)

    # -- identity ------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = int(self.encode_texts(["a"]).shape[1])
        return self._dim

    @property
    def fingerprint(self) -> str:
        """``<model>@<sha256 of the weights, 16 hex>``: stable across loads and machines."""
        if self._fingerprint is None:
            h = hashlib.sha256()
            for name, tensor in sorted(self.model.state_dict().items()):
                h.update(name.encode())
                h.update(tensor.detach().to("cpu").float().contiguous().numpy().tobytes())
            name = self.model_name
            if name.startswith("local-dir:"):  # the architecture name recorded at save time, else the folder name
                cfg_path = Path(name[len("local-dir:") :]) / "open_clip_config.json"
                saved = json.loads(cfg_path.read_text()).get("raqo", {}) if cfg_path.is_file() else {}
                name = saved.get("model_name") or Path(name[len("local-dir:") :]).name
            self._fingerprint = f"{name}@{h.hexdigest()[:16]}"
        return self._fingerprint

    def describe(self) -> dict[str, Any]:
        return {"spec": self.spec, "fingerprint": self.fingerprint, "dim": self.dim, "backend": "torch", "device": self.device}

    # -- text ----------------------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        """Tokens including start/end markers (what must fit the text context)."""
        return open_clip_token_count(self.tokenizer)(text)

    def tokenize(self, texts: Sequence[str]) -> Any:
        """open_clip token ids ``[n, context]``; warns once when a text is truncated."""
        self._check_truncation(texts)
        return self.tokenizer(list(texts))

    def _encode(self, n: int, batch_size: int | None, progress: bool, desc: str, encode: Callable[[int, int], Any]) -> np.ndarray:
        """``encode(start, end)`` over batches under inference mode; float32 ``[n, dim]``."""
        import torch

        with torch.inference_mode():
            return encode_in_batches(
                n, batch_size or self.batch_size, lambda a, b: encode(a, b).float().cpu().numpy(), progress=progress, desc=desc
            )

    def encode_texts(self, texts: Sequence[str], *, batch_size: int | None = None, progress: bool = False) -> np.ndarray:
        texts = check_texts(texts)
        return self._encode(
            len(texts),
            batch_size,
            progress,
            "encoding texts",
            lambda a, b: self.model.encode_text(self.tokenize(texts[a:b]).to(self.device), normalize=True),
        )

    # -- images --------------------------------------------------------------------------
    def _pixel(self, item: Any, index: int) -> Any:
        from raqo_core.data.images import open_rgb

        img = open_rgb(item, what=f"images[{index}]", convert=not self.strict_image_mode)
        return self.preprocess(img)

    def encode_images(self, images: Sequence[Any], *, batch_size: int | None = None, progress: bool = False) -> np.ndarray:
        import torch

        items = check_images(images)
        dtype = next(self.model.parameters()).dtype

        def batch(a: int, b: int) -> Any:
            pix = torch.stack([self._pixel(items[i], i) for i in range(a, b)]).to(self.device, dtype)
            return self.model.encode_image(pix, normalize=True)

        return self._encode(len(items), batch_size, progress, "encoding images", batch)

    # -- saving --------------------------------------------------------------------------
    def save_local(self, out: str | os.PathLike[str], *, fp16: bool = False, extra: dict[str, Any] | None = None) -> Path:
        """Save in open_clip's folder layout (loadable with ``local-dir:`` and as a RAQO spec)."""
        return save_open_clip_folder(self.model, self.model_name, out, fp16=fp16, extra=extra)


def save_open_clip_folder(
    model: Any, model_name: str, out: str | os.PathLike[str], *, fp16: bool = False, extra: dict[str, Any] | None = None
) -> Path:
    """Write ``open_clip_config.json`` + ``open_clip_model.safetensors`` atomically."""
    import open_clip
    from safetensors.torch import save

    from raqo_core.io import atomic_open, atomic_write_json

    register_model_configs()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = open_clip.get_model_config(model_name)
    if cfg is None:
        raise RAQOError(f"no open_clip config for {model_name!r}")
    pp = model.visual.preprocess_cfg if hasattr(model.visual, "preprocess_cfg") else {}
    state = {k: (v.half() if fp16 and v.is_floating_point() else v).detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_open(out / "open_clip_model.safetensors", "wb") as fh:
        fh.write(save(state))
    name = model_name
    if name.startswith("local-dir:"):
        src = Path(name[len("local-dir:") :]) / "open_clip_config.json"
        name = json.loads(src.read_text()).get("raqo", {}).get("model_name", src.parent.name) if src.is_file() else src.parent.name
    atomic_write_json(
        out / "open_clip_config.json",
        {"model_cfg": cfg, "preprocess_cfg": json.loads(json.dumps(pp, default=list)), "raqo": {"model_name": name}, **(extra or {})},
    )
    return out
