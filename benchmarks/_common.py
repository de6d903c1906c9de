"""Shared helpers for the benchmark scripts (timing, peak RSS, JSON output)."""

from __future__ import annotations

import json
import platform
import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def timeit(fn: Callable[[], Any], repeat: int, warmup: int = 1) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def summary_ms(xs: list[float]) -> dict[str, float]:
    return {"p50_ms": 1000 * statistics.median(xs), "p95_ms": 1000 * pct(xs, 0.95), "mean_ms": 1000 * statistics.mean(xs)}


def machine() -> dict[str, Any]:
    import os

    import torch

    return {
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
    }


def write(path: str | Path, result: dict[str, Any]) -> None:
    from raqo_core.io import atomic_write_json

    result = {**result, "machine": machine(), "peak_rss_mb": round(peak_rss_mb(), 1)}
    atomic_write_json(path, result)
    print(json.dumps(result, indent=2))
