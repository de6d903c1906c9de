"""Grounded concept decoding: the Concepts: line may only quote the query."""

from __future__ import annotations

import pytest
import torch

from raqo_core.rewriter.grounding import GroundedConcepts, concept_line_fits

Q = "A photo where there is a tiny solid amber pyramid below a tiny solid green orb"


@pytest.mark.parametrize(
    ("text", "fits"),
    [
        ("", True),
        (" No", True),  # on its way to None
        (" None", True),
        (" None\n", True),
        (" Nonesense", False),
        (" a photo", True),  # case-insensitive
        (" a photo where there is a; tin", True),  # a prefix of a word is fine mid-line
        (" pyramid below", True),  # multi-word spans
        (" solid amber pyr\n", False),  # ...but a finished concept must end on a word boundary
        (" ny", False),  # and start on one
        (" a photo where there is a; tiny; orbit", False),  # "orb" is there, "orbit" is not
        (" tiny; orb\nRewrite: a small round thing", True),  # after the line anything goes
        (" orb;", True),
        (" orb;\n", False),  # an empty concept
        (" honey", False),
    ],
)
def test_concept_line_fits(text, fits):
    assert concept_line_fits(text, Q) is fits


@pytest.fixture(scope="module")
def tok():
    from transformers import AutoTokenizer

    from raqo_core.rewriter.models import embedded_base_dir

    return AutoTokenizer.from_pretrained(embedded_base_dir())


def _one(tok, text: str) -> int:
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert len(ids) == 1, (text, ids)
    return int(ids[0])


def _scores(tok, ranked: list[str]) -> torch.Tensor:
    s = torch.zeros(len(tok))
    for i, piece in enumerate(ranked):
        s[_one(tok, piece)] = 10.0 - i
    return s


def test_processor_masks_tokens_that_leave_the_query(tok):
    prompt = tok(["Concepts:"], add_special_tokens=False, return_tensors="pt")["input_ids"]
    start = prompt.shape[1]
    gen = tok([" tiny;"], add_special_tokens=False, return_tensors="pt")["input_ids"]
    ids = torch.cat([prompt, gen], dim=1)
    scores = _scores(tok, [" honey", " green", " tiny"])[None].clone()
    proc = GroundedConcepts(tok, [Q], start, top_k=4)
    out = proc(ids, scores)
    assert out[0, _one(tok, " honey")] == float("-inf")
    assert int(out[0].argmax()) == _one(tok, " green")  # the best token that quotes the query
    assert out[0, _one(tok, " tiny")] == 8.0  # kept scores are unchanged
    assert proc.constrained_steps == 1
    assert torch.isinf(out[0]).sum() == len(tok) - 2  # only the fitting top-k tokens survive


def test_processor_leaves_rows_alone_when_nothing_fits_or_the_line_is_done(tok):
    prompt = tok(["Concepts:", "Concepts:"], add_special_tokens=False, return_tensors="pt")["input_ids"]
    start = prompt.shape[1]
    gen = tok([" honey", " orb\n"], add_special_tokens=False, return_tensors="pt", padding=True)["input_ids"]
    assert gen.shape[1] == 2  # both rows are two tokens long
    ids = torch.cat([prompt, gen], dim=1)
    base = _scores(tok, [" comb", " field"])
    out = GroundedConcepts(tok, [Q], start, rows_per_query=2, top_k=2)(ids, torch.stack([base, base]).clone())
    torch.testing.assert_close(out, torch.stack([base, base]))  # " honey…" cannot be saved; row 2 is past its line
    with pytest.raises(ValueError, match="top_k must be >= 1, got 0"):
        GroundedConcepts(tok, [Q], start, top_k=0)


def test_backend_grounds_real_generation(tiny_lm_dir):
    """A random tiny Llama, constrained over its whole vocabulary: every concept line quotes the query."""
    from raqo_core.rewriter.engines.hf import HFGenerator
    from raqo_core.rewriter.models import load_causal_lm
    from raqo_core.rewriter.prompt import is_complete

    lm = load_causal_lm(str(tiny_lm_dir))
    be = HFGenerator(lm.model, lm.tokenizer)
    qs = ["a crimson orb", "a tiny azure block to the west of a giant golden pentagram"]
    prompts = [be.chat_prompt([{"role": "user", "content": q}], "Concepts:") for q in qs]
    free = be.generate(prompts, max_new_tokens=6).texts
    assert not all(concept_line_fits(t[0], q) for t, q in zip(free, qs, strict=True))  # unconstrained: it wanders off
    # every token is checked, so each step has a fitting choice
    got = be.generate(
        prompts, max_new_tokens=6, ground_in=qs, ground_top_k=len(lm.tokenizer), is_done=lambda t: is_complete(t, "detect")
    ).texts
    for t, q in zip(got, qs, strict=True):
        assert concept_line_fits(t[0], q), (t[0], q)
    with pytest.raises(ValueError, match="ground_in has 1 queries for 2 prompts"):
        be.generate(prompts, max_new_tokens=2, ground_in=qs[:1])
