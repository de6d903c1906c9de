"""``raqo export-onnx`` and ``raqo export-rewriter``: artefacts for inference engines."""

from __future__ import annotations

import argparse
import json

from raqo_core.cli._common import add_common, set_threads


def register(sub: argparse._SubParsersAction) -> None:
    x = sub.add_parser("export-onnx", help="export a retriever's encoders to ONNX (with a parity check)")
    x.add_argument("--retriever", required=True)
    x.add_argument("--out", required=True)
    x.add_argument("--fp16", action="store_true", help="also write fp16 graphs (for GPUs)")
    x.add_argument("--int8", action="store_true", help="also write int8 dynamically quantised graphs (for CPUs)")
    x.add_argument("--legacy", action="store_true", help="use the legacy TorchScript exporter (opset 17) directly")
    add_common(x)
    x.set_defaults(func=onnx)

    xr = sub.add_parser("export-rewriter", help="export a trained rewriter for inference engines (merged HF, GGUF, LoRA)")
    xr.add_argument(
        "--adapter", default="auto", help="LoRA adapter folder ('auto' = the shipped embedded adapter for --mode; 'none' = the base alone)"
    )
    xr.add_argument("--model", default="embedded", help="the adapter's base model: 'embedded', an HF id or a folder")
    xr.add_argument("--mode", default="recot", choices=["recot", "direct", "detect"], help="picks the shipped adapter for 'auto'")
    xr.add_argument("--out", required=True, help="folder for hf/, gguf/rewriter-<type>.gguf and lora/")
    xr.add_argument("--format", default="hf,gguf,lora", help="comma-separated: hf (merged, for vLLM/TGI), gguf (llama.cpp/Ollama), lora")
    xr.add_argument("--gguf-type", default="f16,q8_0", help="comma-separated GGUF types: f16, q8_0")
    xr.add_argument("--tokenizer-gguf", default=None, help="a GGUF of the same base model to take the tokenizer from (non-embedded bases)")
    add_common(xr)
    xr.set_defaults(func=rewriter)


def onnx(a: argparse.Namespace) -> int:
    from raqo_core.retriever.onnx_export import export_onnx

    set_threads(a.threads)
    manifest = export_onnx(a.retriever, a.out, fp16=a.fp16, int8=a.int8, prefer_dynamo=not a.legacy)
    print(json.dumps(manifest, indent=2))
    print(f"wrote {a.out} (use it as --retriever onnx:{a.out})")
    return 0


def rewriter(a: argparse.Namespace) -> int:
    from raqo_core.rewriter.export import ExportSource, export_rewriter

    set_threads(a.threads)
    formats = [f.strip() for f in a.format.split(",") if f.strip()]
    types = [t.strip() for t in a.gguf_type.split(",") if t.strip()]
    adapter = None if a.adapter.lower() == "none" else a.adapter  # none: the base model alone (e.g. to serve a LoRA on)
    written = export_rewriter(ExportSource(a.model, adapter, a.mode), a.out, formats, gguf_types=types, tokenizer_gguf=a.tokenizer_gguf)
    print(json.dumps(written, indent=2))
    return 0
