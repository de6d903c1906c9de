"""Parity and throughput of an OpenAI-compatible rewriter server (vLLM, llama.cpp's server, TGI…).

    python -m benchmarks.server_check --url http://127.0.0.1:8000/v1 [--n 200] [--clients 32] [--device cuda] [--out FILE]

Rewrites the first ``--n`` val user queries through ``backend="openai:URL"`` and through the in-process
``hf`` engine (the reference, on ``--device``), reports the share of identical results, then the
server's throughput with ``--clients`` concurrent callers on the test queries. Writes JSON.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor

from benchmarks._common import write


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True)
    ap.add_argument("--adapter", default="auto")
    ap.add_argument("--mode", default="recot", choices=["recot", "direct"])
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--grammar", default="auto", help="engine_grammar: auto | gbnf | vllm | none")
    ap.add_argument("--out", default="results/bench/server_check.json")
    a = ap.parse_args()
    from raqo_core.data.manifest import load_manifest
    from raqo_core.paths import embedded_benchmark_dir
    from raqo_core.rewriter.rewriter import Rewriter, RewriterConfig

    m = load_manifest(embedded_benchmark_dir(0))
    val = [t for r in m.split("val") for t in r.texts("user")][: a.n]
    test = [t for r in m.split("test") for t in r.texts("user")][: max(a.n, 4 * a.clients)]
    common = {"adapter": a.adapter, "mode": a.mode, "cache_size": 0}
    remote = Rewriter(
        RewriterConfig(**common, timeout_s=60.0, backend=f"openai:{a.url}", engine_grammar=a.grammar, engine_concurrency=a.clients)
    )
    local = Rewriter(RewriterConfig(**common, timeout_s=None, device=a.device)).load()
    t = time.perf_counter()
    ref = local.rewrite_batch(val, batch_size=16)
    local_s = time.perf_counter() - t
    got = remote.load().rewrite_batch(val, batch_size=len(val))  # all in flight, up to --clients at once

    def key(r):  # noqa: ANN001, ANN202
        return (r.rewritten_query, tuple(r.concepts), r.applied)

    same = sum(key(x) == key(y) for x, y in zip(got, ref, strict=True))
    outside = sum(c.lower() not in r.original_query.lower() for r in got for c in r.concepts)
    t = time.perf_counter()
    with ThreadPoolExecutor(a.clients) as pool:
        list(pool.map(remote.rewrite, test))
    qps = len(test) / (time.perf_counter() - t)
    write(
        a.out,
        {
            "url": a.url,
            "served_model": remote._backend.model,
            "grammar": remote._backend.grammar_style,
            "parity": {"queries": len(val), "identical_to_hf": same, "share": round(same / len(val), 3), "concepts_outside_query": outside},
            "hf_batch16_qps": round(len(val) / local_s, 2),
            "server": {"clients": a.clients, "queries": len(test), "qps": round(qps, 2)},
            "errors": sum(r.reason.startswith("error") for r in got),
        },
    )


if __name__ == "__main__":
    main()
