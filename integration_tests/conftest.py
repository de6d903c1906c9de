from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``raqo train --config quick`` in this (single) process, trained once per session: the end-to-end test
    and the multi-process comparison share it. Returns the run folder."""
    from raqo_core.cli import main

    out = tmp_path_factory.mktemp("quick_single")
    assert main(["train", "--config", "quick", "--out", str(out)]) == 0
    return out / "quick"
