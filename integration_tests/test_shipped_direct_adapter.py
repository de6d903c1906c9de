"""``mode="direct"`` with ``adapter="auto"`` loads the shipped direct adapter (real SmolLM2 + LoRA, greedy)."""

from __future__ import annotations

import warnings

import pytest

from raqo_core.rewriter.adapters import EMBEDDED_DIRECT_ADAPTER_DIR, AdapterModeWarning
from raqo_core.rewriter.rewriter import Rewriter

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# Val queries the ReCoT adapter leaves alone (Concepts: None) and the direct adapter rewrites,
# lifting the target image's rank (25 → 3 and 7 → 0 in `raqo eval --split val`).
QUERIES = [
    "a photo where there is a verdant diamond left of a pretty little red block",
    "a small verdant circle above a simple small orange triangle",
]


def test_direct_mode_gets_the_direct_adapter_and_rewrites_without_a_concept_line():
    with warnings.catch_warnings():
        warnings.simplefilter("error", AdapterModeWarning)  # the format matches the mode: no warning
        direct = Rewriter(adapter="auto", mode="direct", timeout_s=None).load()
    assert direct.config.adapter == str(EMBEDDED_DIRECT_ADAPTER_DIR) and direct.adapter_meta["mode"] == "direct"
    recot = Rewriter(adapter="auto", timeout_s=None).load()
    d, r = direct.rewrite_batch(QUERIES), recot.rewrite_batch(QUERIES)
    assert [x.applied for x in r] == [False, False] and {x.reason for x in r} == {"no challenging concepts"}
    assert all(x.applied and x.concepts == [] for x in d)
    assert "a photo where there is" not in d[0].rewritten_query and "pretty little" not in d[0].rewritten_query
    assert "simple" not in d[1].rewritten_query.split()
    assert [x.original_query for x in d] == QUERIES


def test_a_recot_adapter_prompted_for_direct_rewriting_warns():
    with pytest.warns(AdapterModeWarning, match="trained for mode 'recot' but the rewriter runs in mode 'direct'"):
        Rewriter(adapter=str(EMBEDDED_DIRECT_ADAPTER_DIR.parent / "embedded_adapter"), mode="direct").load()
