"""Rewriter latency on the CPU: the None short-circuit, a full ReCoT rewrite, batched throughput.

    python -m benchmarks.rewrite_latency [--adapter DIR] [--mode recot|direct] [--int8] [--n N] [--out FILE]

The default output name says what was measured (``rewrite_latency[_adapter][_direct][_int8][_nN].json``), so
a run with an adapter never overwrites the base model's figures.

Without a trained adapter the base model does not follow the ReCoT format, so the two paths are
timed by their token budgets, which is what they cost: the None path is the prompt prefill plus
3 generated tokens (" None\\n"); a full rewrite is prefill plus --rewrite-tokens tokens (a terse
"crimson; orb\\nRewrite: a red circle left of a blue square" answer is ≈ 20–28 tokens). With
--adapter, real rewrites of benchmark user queries are timed end to end as well (with the default
grounded concept line, and without it). ``--mode direct`` prompts for a rewrite with no concept line
(the direct adapter's format), so every query pays for a full answer.
"""

from __future__ import annotations

import argparse
import time

from benchmarks._common import summary_ms, write


def default_out(adapter: str | None, int8: bool, n: int, mode: str = "recot") -> str:
    """Name the result after the configuration measured (n = 24 is the default sample)."""
    name = "rewrite_latency" + ("_adapter" if adapter else "") + ("_direct" if mode == "direct" else "")
    name += ("_int8" if int8 else "") + (f"_n{n}" if n != 24 else "")
    return f"results/bench/{name}.json"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=None, help="default: results/bench/rewrite_latency[_adapter][_int8][_nN].json")
    ap.add_argument("--model", default="embedded")
    ap.add_argument("--adapter", default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--mode", default="recot", choices=["recot", "direct"], help="the prompt format (the adapter's)")
    ap.add_argument("--int8", action="store_true")
    ap.add_argument("--n", type=int, default=24)
    ap.add_argument("--rewrite-tokens", type=int, default=26)
    ap.add_argument("--batch-sizes", default="8,16", help="batch sizes for the throughput rows")
    a = ap.parse_args()
    batch_sizes = [int(b) for b in a.batch_sizes.split(",")]
    import torch

    from raqo_core.data.manifest import load_manifest
    from raqo_core.paths import embedded_benchmark_dir
    from raqo_core.rewriter import prompt as P
    from raqo_core.rewriter.engines.hf import HFGenerator
    from raqo_core.rewriter.models import load_causal_lm

    torch.set_num_threads(a.threads)
    t0 = time.perf_counter()
    lm = load_causal_lm(a.model, adapter=a.adapter, quantize_int8=a.int8)
    load_s = time.perf_counter() - t0
    be = HFGenerator(lm.model, lm.tokenizer)
    m = load_manifest(embedded_benchmark_dir(0))
    queries = [t for r in m.split("test")[: a.n] for t in r.texts("user")[:1]][: a.n]
    prompts = [be.chat_prompt(P.messages(q, a.mode), P.response_prefix(a.mode)) for q in queries]
    prompt_tokens = [len(lm.tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prompts]

    def timed(budget: int, bs: int) -> list[float]:
        be.generate(prompts[:bs], max_new_tokens=budget)  # warm-up
        out = []
        for i in range(0, len(prompts), bs):
            t = time.perf_counter()
            g = be.generate(prompts[i : i + bs], max_new_tokens=budget, min_new_tokens=budget, is_done=lambda _t: False)
            out.append(time.perf_counter() - t)
            assert g.new_tokens == budget
        return out

    none_path = timed(3, 1) if a.mode == "recot" else None  # direct answers have no short None path
    full_path = timed(a.rewrite_tokens, 1)
    batched = {bs: timed(a.rewrite_tokens, bs) for bs in batch_sizes}
    res = {
        "model": lm.name,
        "adapter": a.adapter,
        "mode": a.mode,
        "int8": a.int8,
        "threads": a.threads,
        "load_seconds": round(load_s, 2),
        "prompt_tokens_mean": sum(prompt_tokens) / len(prompt_tokens),
        "none_path_batch1": summary_ms(none_path) if none_path else None,
        "full_rewrite_batch1": {
            **summary_ms(full_path),
            "tokens": a.rewrite_tokens,
            "tok_per_s": round(a.rewrite_tokens / (sum(full_path) / len(full_path)), 1),
        },
        **{
            f"full_rewrite_batch{bs}": {
                "queries_per_s": round(len(prompts) / sum(t), 2),
                "tok_per_s": round(len(prompts) * a.rewrite_tokens / sum(t), 1),
            }
            for bs, t in batched.items()
        },
        "targets": {"none_path_p50_ms": 150, "full_rewrite_p50_ms": 1000, "batched_queries_per_s": 8},
    }
    if a.adapter:
        from raqo_core.rewriter.rewriter import Rewriter, RewriterConfig

        rw = Rewriter(RewriterConfig(model=a.model, adapter=a.adapter, mode=a.mode, quantize_int8=a.int8, cache_size=0)).load()
        passes = (
            (("end_to_end_batch1_ungrounded", False), ("end_to_end_batch1", True)) if a.mode == "recot" else (("end_to_end_batch1", False),)
        )
        for key, grounded in passes:
            rw.config.grounded_concepts = grounded  # the grounded concept line's cost: a logits processor per step
            lat = []
            applied = 0
            for q in queries:
                r = rw.rewrite(q)
                lat.append(r.latency_ms / 1000)
                applied += r.applied
            res[key] = {**summary_ms(lat), "applied": applied, "n": len(queries)}
        for bs in batch_sizes:  # real answers: None stops after a few tokens, rewrites run to their end
            rw.rewrite_batch(queries[:bs], batch_size=bs)  # warm-up
            t = time.perf_counter()
            got = rw.rewrite_batch(queries, batch_size=bs)
            dt = time.perf_counter() - t
            res[f"end_to_end_batch{bs}"] = {"queries_per_s": round(len(queries) / dt, 2), "applied": sum(r.applied for r in got)}
    import resource

    res["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    write(a.out or default_out(a.adapter, a.int8, a.n, a.mode), res)


if __name__ == "__main__":
    main()
