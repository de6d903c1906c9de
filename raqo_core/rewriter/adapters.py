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

logger = logging.getLogger(__name__)
META_NAME = "raqo_adapter.json"
EMBEDDED_ADAPTER_DIR = Path(__file__).resolve().parent.parent / "assets" / "embedded_adapter"


def resolve_adapter(adapter: str | None, model: str) -> str | None:
    """``"auto"``: the adapter shipped for the embedded retriever when ``model`` is the embedded base
    and one is packaged, else none; ``"embedded"``: that adapter (an error if it is missing)."""
    shipped = EMBEDDED_ADAPTER_DIR if (EMBEDDED_ADAPTER_DIR / "adapter_config.json").is_file() else None
    if adapter == "auto":
        return str(shipped) if shipped and model == "embedded" else None
    if adapter == "embedded":
        if shipped is None:
            raise RAQOError(
                f"no embedded adapter is packaged at {str(EMBEDDED_ADAPTER_DIR)!r}; train one with "
                "`raqo train --config training/configs/embedded.yaml`"
            )
        return str(shipped)
    return adapter


class RetrieverMismatchWarning(UserWarning):
    """The adapter was trained for another retriever."""


def read_adapter_meta(adapter: str | Path) -> dict[str, Any]:
    p = Path(adapter) / META_NAME
    return json.loads(p.read_text()) if p.is_file() else {}


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
    except (OSError, ValueError) as exc:
        raise RAQOError(f"cannot load adapter {adapter!r}: {exc}") from exc
    meta = read_adapter_meta(adapter) if local.exists() else {}
    trained_for = meta.get("retriever_fingerprint")
    if expected_retriever and trained_for and trained_for != expected_retriever:
        warnings.warn(
            f"adapter {adapter!r} was trained for retriever {trained_for!r}, but is used with {expected_retriever!r}; "
            "its learnt preferences may not transfer",
            RetrieverMismatchWarning,
            stacklevel=3,
        )
    return (peft_model.merge_and_unload() if merge else peft_model), meta
