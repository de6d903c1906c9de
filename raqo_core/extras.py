"""Which ``pip install 'raqo[EXTRA]'`` provides each optional dependency, for one-line install hints."""

from __future__ import annotations

# top-level import name → the extra that installs it (pyproject.toml's [project.optional-dependencies])
EXTRA_FOR = {
    "haystack": "haystack",
    "haystack_integrations": "haystack",
    "qdrant_haystack": "haystack",
    "llama_index": "llamaindex",
    "qdrant_client": "llamaindex",
    "transformers": "train",
    "peft": "train",
    "trl": "train",
    "accelerate": "train",
    "datasets": "train",
    "nltk": "train",
    "sentence_transformers": "train",
    "onnx": "onnx",
    "onnxruntime": "onnx",
    "onnxscript": "onnx",
    "llama_cpp": "llamacpp",
    "gguf": "llamacpp",
    "jinja2": "llamacpp",
    "captum": "explain",
}


def install_hint(module: str | None) -> str:
    """``pip install 'raqo[EXTRA]'`` for a missing module (its top-level name decides), or a pointer to the README."""
    top = (module or "").split(".")[0]
    extra = EXTRA_FOR.get(top)
    if extra is None:
        return f"install {top or 'the missing package'} (see the README's install section)"
    return f"pip install 'raqo[{extra}]'"
