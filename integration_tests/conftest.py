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
