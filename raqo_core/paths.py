"""Where RAQO keeps caches (benchmarks, converted models): ``RAQO_CACHE`` or ``~/.cache/raqo``."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(*parts: str) -> Path:
    base = os.environ.get("RAQO_CACHE") or os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "raqo")
    p = Path(base, *parts)
    p.mkdir(parents=True, exist_ok=True)
    return p


def embedded_benchmark_dir(seed: int = 0) -> Path:
    """The embedded benchmark for ``seed``, rendered on first use (about 4 s), with the ``paraphrase`` register
    (:mod:`raqo_core.data.paraphrase`; added to a benchmark rendered before it existed)."""
    from raqo_core.data.paraphrase import add_paraphrase_register, has_paraphrase_register
    from raqo_core.data.synth import GENERATOR_VERSION, SynthConfig, generate

    d = cache_dir("embedded-benchmark", f"v{GENERATOR_VERSION}-seed{seed}")
    if not (d / "manifest.jsonl").is_file():
        generate(d, SynthConfig(seed=seed))
    if not has_paraphrase_register(d):
        add_paraphrase_register(d, seed)
    return d
