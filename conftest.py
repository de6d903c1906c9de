from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")  # no network: no telemetry thread
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _torch_threads() -> None:
    import torch

    torch.set_num_threads(2)


@pytest.fixture(scope="session")
def tiny_bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small embedded-benchmark instance (rendered in well under a second)."""
    from raqo_core.data.synth import SynthConfig, generate

    out = tmp_path_factory.mktemp("tiny_bench")
    generate(out, SynthConfig(seed=3, n_train=48, n_val=8, n_test=40), progress=False)
    return out


@pytest.fixture(scope="session")
def random_retriever():
    """RAQO-Tiny-64 with seeded random weights: real open_clip code, fast to build."""
    from raqo_core.retriever.open_clip_backend import OpenCLIPRetriever

    return OpenCLIPRetriever("RAQO-Tiny-64", seed=0)


@pytest.fixture(scope="session")
def tiny_lm_dir(tmp_path_factory):
    """A 2-layer random Llama with the embedded SmolLM2 tokenizer (real chat template)."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from raqo_core.rewriter.models import embedded_base_dir

    tok = AutoTokenizer.from_pretrained(embedded_base_dir())
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(cfg)
    with torch.no_grad():  # sharpen the random logits so greedy decoding has clear winners
        model.lm_head.weight.mul_(8.0)
    out = tmp_path_factory.mktemp("tiny_lm")
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_adapter(tiny_lm_dir, tmp_path_factory):
    import json

    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from raqo_core.rewriter.adapters import META_NAME

    base = AutoModelForCausalLM.from_pretrained(tiny_lm_dir)
    peft_model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    torch.manual_seed(1)
    with torch.no_grad():
        for n, p in peft_model.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.5)  # non-zero B so the adapter changes the output
    out = tmp_path_factory.mktemp("adapter")
    peft_model.save_pretrained(out)
    (out / META_NAME).write_text(json.dumps({"retriever_fingerprint": "RAQO-Tiny-64@aaaa"}))
    return out
