"""peft LoRA adapters tied to a retriever.

An adapter folder is a regular peft folder plus ``raqo_adapter.json`` naming the retriever
fingerprint it was trained for, the base model, the mode and the training metrics.
Loading it in front of another retriever warns: the preferences it learnt are that
retriever's.
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path
from typing import Any

from raqo_core.errors import RAQOError
from raqo_core.rewriter.bases import EMBEDDED_BASE, PACKAGED_BASES

logger = logging.getLogger(__name__)
META_NAME = "raqo_adapter.json"
_ASSETS = Path(__file__).resolve().parent.parent / "assets"
EMBEDDED_ADAPTER_DIR = _ASSETS / "embedded_adapter"
EMBEDDED_DIRECT_ADAPTER_DIR = _ASSETS / "embedded_direct_adapter"
EMBEDDED_HUB_ID = PACKAGED_BASES.get(EMBEDDED_BASE).hub_id  # what the embedded base GGUF was quantised from
# The output format each rewriter mode expects of an adapter: detect reads the ReCoT concept line.
ADAPTER_MODE_FOR = {"recot": "recot", "detect": "recot", "direct": "direct"}


def shipped_adapter_dir(mode: str = "recot") -> Path:
    """The folder of the adapter shipped for the embedded retriever in ``mode``'s output format."""
    from raqo_core.rewriter.prompt import check_mode

    return EMBEDDED_DIRECT_ADAPTER_DIR if ADAPTER_MODE_FOR[check_mode(mode)] == "direct" else EMBEDDED_ADAPTER_DIR


def resolve_adapter(adapter: str | None, model: str, mode: str = "recot") -> str | None:
    """``"auto"``: the adapter shipped for the embedded retriever in ``mode``'s format (ReCoT for
    recot/detect, direct for direct) when ``model`` is the embedded base and one is packaged, else
    none; ``"embedded"``: that adapter (an error if it is missing). Anything else is returned as is."""
    if adapter not in ("auto", "embedded"):
        return adapter
    d = shipped_adapter_dir(mode)
    shipped = d if (d / "adapter_config.json").is_file() else None
    if adapter == "auto":
        return str(shipped) if shipped and model == "embedded" else None
    if shipped is None:
        raise RAQOError(
            f"no embedded {ADAPTER_MODE_FOR[mode]} adapter is packaged at {str(d)!r}; train one with `raqo train --config embedded`"
        )
    return str(shipped)


def check_adapter_mode(meta: dict[str, Any], mode: str, adapter: str | None) -> None:
    """Warn when an adapter trained for one output format is prompted in another.

    A ReCoT adapter prompted for direct rewriting (or the reverse) was never trained on that prompt;
    it still answers, but not as its recipe measured. ``detect`` reads the ReCoT concept line.
    """
    trained, needed = meta.get("mode"), ADAPTER_MODE_FOR.get(mode, mode)
    if trained is None or trained == needed:
        return
    warnings.warn(
        f"adapter {adapter!r} was trained for mode {trained!r} but the rewriter runs in mode {mode!r}; "
        f"use mode={trained!r}, or an adapter trained with `mode: {needed}`",
        AdapterModeWarning,
        stacklevel=3,
    )


def check_retriever(meta: dict[str, Any], expected_retriever: str | None, adapter: str | None) -> None:
    """Warn when the adapter (or exported model) was trained for another retriever than the one in use."""
    trained_for = meta.get("retriever_fingerprint")
    if expected_retriever and trained_for and trained_for != expected_retriever:
        warnings.warn(
            f"adapter {adapter!r} was trained for retriever {trained_for!r}, but is used with {expected_retriever!r}; "
            "its learnt preferences may not transfer",
            RetrieverMismatchWarning,
            stacklevel=4,
        )


class AdapterModeWarning(UserWarning):
    """The adapter was trained for another output format (ReCoT vs direct)."""


class RetrieverMismatchWarning(UserWarning):
    """The adapter was trained for another retriever."""


def read_adapter_meta(adapter: str | Path) -> dict[str, Any]:
    """The adapter's ``raqo_adapter.json`` ({} when it has none); a malformed file is an error naming it."""
    p = Path(adapter) / META_NAME
    if not p.is_file():
        return {}
    try:
        meta = json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RAQOError(f"{str(p)!r}: malformed JSON ({exc}); expected the raqo_adapter.json that `raqo train` writes") from None
    if not isinstance(meta, dict):
        raise RAQOError(f"{str(p)!r}: expected a JSON object, got {type(meta).__name__}")
    return meta


def load_adapter(model: Any, adapter: str, *, merge: bool = True, expected_retriever: str | None = None) -> tuple[Any, dict[str, Any]]:
    """Attach (and optionally merge) a LoRA adapter from a local folder or hub id."""
    from peft import PeftModel

    local = Path(adapter)
    if local.exists() and not (local / "adapter_config.json").is_file():
        raise RAQOError(f"adapter folder {str(local)!r} has no adapter_config.json; expected a peft LoRA adapter folder")
    if not local.exists() and "/" not in adapter:
        raise RAQOError(f"adapter {adapter!r} not found; expected a local peft adapter folder or a hub id (org/name)")
    try:
        peft_model = PeftModel.from_pretrained(model, adapter)
    except Exception as exc:  # corrupt safetensors, a refused pickle, a shape mismatch: one line naming the folder
        raise RAQOError(
            f"cannot load adapter {adapter!r}: {type(exc).__name__}: {str(exc)[:200]}; expected a peft LoRA folder "
            "(adapter_config.json + adapter_model.safetensors) trained on this base model"
        ) from exc
    meta = read_adapter_meta(adapter) if local.exists() else {}
    check_retriever(meta, expected_retriever, adapter)
    return (peft_model.merge_and_unload() if merge else peft_model), meta


def _is_hub_id(ref: str) -> bool:
    return not Path(ref).is_absolute() and not ref.startswith((".", "~")) and ref.count("/") == 1 and not Path(ref).exists()


def portable_base(recorded: str | None, model: str) -> str:
    """A base-model reference that means the same on another machine: a hub id, never a local path."""
    if model in PACKAGED_BASES:
        return PACKAGED_BASES.get(model).hub_id
    for ref in (model, recorded):
        if ref and _is_hub_id(ref):
            return ref
    return Path(recorded or model).name  # a local folder: its name, resolved by the user's own model path


def make_portable(adapter_dir: str | Path, model: str) -> None:
    """Rewrite the adapter's ``base_model_name_or_path`` (peft writes the loading machine's path) as a portable
    reference, so the folder loads anywhere and other tools (vLLM, TGI) can serve it."""
    from raqo_core.io import atomic_write_json

    p = Path(adapter_dir) / "adapter_config.json"
    cfg = json.loads(p.read_text())
    ref = portable_base(cfg.get("base_model_name_or_path"), model)
    if cfg.get("base_model_name_or_path") != ref:
        cfg["base_model_name_or_path"] = ref
        atomic_write_json(p, cfg)
