"""The rewriter on every engine, side by side: latency, fidelity, grounding, memory, throughput.

    python -m benchmarks.rewriter_engines [--adapter auto] [--mode recot|direct] [--n 100] [--parity 200] [--out FILE]

One process, 2 threads per engine, the engines interleaved query by query (each query is rewritten by
every engine before the next query), so speed ratios are measured under the same machine load:

- ``hf`` fp32 (the default), ``hf`` int8 (dynamic quantisation), ``llamacpp`` F16 and Q8_0 (the adapter
  merged and exported to GGUF once), and ``server`` (``python -m llama_cpp.server`` on the Q8_0 file,
  started here on 127.0.0.1, called through ``backend="openai:…"``); all with the full policy (parse,
  grounding, guard, fallback) and no cache;
- batch-1 p50/p90 over all queries, over the *full-rewrite* path (the engine named concepts and rewrote)
  and over the *None* path; ``fidelity``: the share of queries whose result (rewrite, concepts, applied)
  equals ``hf`` fp32's; ``batch_equals_single``: ``rewrite_batch(8)`` against batch-1 answers;
- grounding: concepts outside the query, grammar (llama.cpp) vs logits processor (hf), and the grammar's
  cost (Q8_0 grounded vs ungrounded p50);
- peak RSS (VmHWM) of a process that loads one engine and rewrites 8 queries, each in its own child
  process, with and without the intent guard (``--rss-only`` re-measures just these);
- throughput with 8 concurrent clients on the server, against ``hf`` batched (``rewrite_batch``, batch 8);
- ``--parity N``: identical greedy outputs, F16 vs ``hf`` fp32, on the first N val user queries.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks._common import pct, write


def _queries(split: str, n: int) -> list[str]:
    from raqo_core.data.manifest import load_manifest
    from raqo_core.paths import embedded_benchmark_dir

    m = load_manifest(embedded_benchmark_dir(0))
    return [t for r in m.split(split) for t in r.texts("user")][:n]


def _config(name: str, adapter: str, mode: str, ggufs: dict[str, str], url: str | None) -> Any:
    from raqo_core.rewriter.rewriter import RewriterConfig

    common = {"adapter": adapter, "mode": mode, "timeout_s": None, "cache_size": 0}
    return {
        "hf_fp32": RewriterConfig(**common),
        "hf_int8": RewriterConfig(**common, quantize_int8=True),
        "llamacpp_f16": RewriterConfig(**common, backend=f"llamacpp:{ggufs.get('f16')}", engine_threads=2),
        "llamacpp_q8_0": RewriterConfig(**common, backend=f"llamacpp:{ggufs.get('q8_0')}", engine_threads=2),
        "llamacpp_q8_0_ungrounded": RewriterConfig(
            **common, backend=f"llamacpp:{ggufs.get('q8_0')}", engine_threads=2, grounded_concepts=False
        ),
        "server_q8_0": RewriterConfig(**{**common, "timeout_s": 60.0}, backend=f"openai:{url}"),
    }[name]


def _key(r: Any) -> tuple[str, tuple[str, ...], bool]:
    return (r.rewritten_query, tuple(r.concepts), r.applied)


def _ms(xs: list[float]) -> dict[str, float | int]:
    if not xs:
        return {"n": 0}
    return {"n": len(xs), "p50_ms": round(1000 * statistics.median(xs), 1), "p90_ms": round(1000 * pct(xs, 0.9), 1)}


def _start_server(gguf: str, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", gguf, "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--n_ctx", "2048", "--n_threads", "2", "--model_alias", "raqo-rewriter"]
    proc = subprocess.Popen(cmd, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    for _ in range(240):
        try:
            with urllib.request.urlopen(f"{url}/models", timeout=2):
                return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit(f"llama_cpp.server did not start; see {log}")


def _rss_child(name: str, adapter: str, mode: str, ggufs: dict[str, str]) -> None:
    """Peak RSS of a process that loads one engine (``…+noguard``: without the MiniLM intent guard, which
    brings torch and sentence-transformers into the process) and rewrites 8 queries."""
    from raqo_core.rewriter.rewriter import Rewriter

    engine, _, variant = name.partition("+")
    cfg = _config(engine, adapter, mode, ggufs, None)
    if variant == "noguard":
        cfg.guard_threshold = None
    rw = Rewriter(cfg).load()
    rw.rewrite_batch(_queries("test", 8), batch_size=1)
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the (large) parent across fork + exec
    hwm = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmHWM:"))
    print(json.dumps({"peak_rss_mb": round(int(hwm.split()[1]) / 1024, 1)}))


def _rss(adapter: str, mode: str, ggufs: dict[str, str]) -> dict[str, float]:
    rss = {}
    for n in ("hf_fp32", "hf_int8", "llamacpp_q8_0", "hf_fp32+noguard", "llamacpp_q8_0+noguard"):
        out = subprocess.run(
            [sys.executable, __file__, "--adapter", adapter, "--mode", mode, "--rss-child", n, "--ggufs", json.dumps(ggufs)],
            capture_output=True,
            text=True,
            check=True,
        )
        rss[n] = json.loads(out.stdout.strip().splitlines()[-1])["peak_rss_mb"]
    return rss


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--adapter", default="auto")
    ap.add_argument("--mode", default="recot", choices=["recot", "direct"])
    ap.add_argument("--n", type=int, default=100, help="test user queries, each rewritten by every engine")
    ap.add_argument("--parity", type=int, default=200, help="val user queries for the F16 vs hf identity check (0: skip)")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--out", default=None, help="default: results/bench/rewriter_engines[_direct].json")
    ap.add_argument("--rss-child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--ggufs", default="{}", help=argparse.SUPPRESS)
    ap.add_argument("--rss-only", action="store_true", help="measure peak RSS only and merge it into --out")
    a = ap.parse_args()
    from raqo_core.rewriter.adapters import resolve_adapter
    from raqo_core.rewriter.export import cached_gguf
    from raqo_core.rewriter.rewriter import Rewriter

    adapter = resolve_adapter(a.adapter, "embedded", a.mode)
    assert adapter is not None
    if a.rss_child:  # no torch import here unless the engine needs it
        _rss_child(a.rss_child, adapter, a.mode, json.loads(a.ggufs))
        return
    import torch

    torch.set_num_threads(2)
    t_all = time.time()
    ggufs = {t: str(cached_gguf("embedded", adapter, a.mode, t)) for t in ("f16", "q8_0")}
    out_path = a.out or f"results/bench/rewriter_engines{'_direct' if a.mode == 'direct' else ''}.json"
    if a.rss_only:
        from raqo_core.io import atomic_write_json

        result = json.loads(Path(out_path).read_text())
        result["peak_rss_mb_per_process"] = _rss(adapter, a.mode, ggufs)
        atomic_write_json(out_path, result)
        print(json.dumps(result["peak_rss_mb_per_process"], indent=2))
        return
    log = Path(tempfile.mkdtemp()) / "server.log"
    proc, url = _start_server(ggufs["q8_0"], log)
    result: dict[str, Any] = {"adapter": adapter, "mode": a.mode, "n_queries": a.n, "ggufs": ggufs}
    try:
        names = ["hf_fp32", "hf_int8", "llamacpp_f16", "llamacpp_q8_0", "llamacpp_q8_0_ungrounded", "server_q8_0"]
        t0 = time.time()
        rws = {n: Rewriter(_config(n, adapter, a.mode, ggufs, url)) for n in names}
        load_s = {}
        for n, rw in rws.items():
            t = time.perf_counter()
            rw.load()
            load_s[n] = round(time.perf_counter() - t, 2)
        qs = _queries("test", a.n)
        for rw in rws.values():  # warm-up: first-call costs are not per-query latency
            rw.rewrite(qs[0])
        times: dict[str, list[float]] = {n: [] for n in names}
        res: dict[str, list[Any]] = {n: [] for n in names}
        for i, q in enumerate(qs):
            order = names[i % len(names) :] + names[: i % len(names)]  # rotate who goes first
            for n in order:
                t = time.perf_counter()
                r = rws[n].rewrite(q)
                times[n].append(time.perf_counter() - t)
                res[n].append(r)
            if (i + 1) % 20 == 0:
                print(f"[engines] {i + 1}/{len(qs)} queries, {time.time() - t0:.0f}s", flush=True)
        ref = res["hf_fp32"]
        engines: dict[str, Any] = {}
        for n in names:
            full = [t for t, r in zip(times[n], res[n], strict=True) if r.concepts or (a.mode == "direct")]
            none = [t for t, r in zip(times[n], res[n], strict=True) if not r.concepts and a.mode != "direct"]
            outside = sum(c.lower() not in r.original_query.lower() for r in res[n] for c in r.concepts)
            engines[n] = {
                "load_s": load_s[n],
                "all": _ms(times[n]),
                "full_rewrite": _ms(full),
                "none_path": _ms(none),
                "applied": sum(r.applied for r in res[n]),
                "fidelity_vs_hf_fp32": round(sum(_key(x) == _key(y) for x, y in zip(res[n], ref, strict=True)) / len(qs), 3),
                "concepts": sum(len(r.concepts) for r in res[n]),
                "concepts_outside_query": outside,
                "unparseable": sum(r.reason.startswith("unparseable") for r in res[n]),
            }
        for n in ("hf_fp32", "hf_int8", "llamacpp_q8_0"):
            batched = rws[n].rewrite_batch(qs, batch_size=8)
            engines[n]["batch8_equals_single"] = round(sum(_key(x) == _key(y) for x, y in zip(batched, res[n], strict=True)) / len(qs), 3)
        p50 = {n: engines[n]["full_rewrite"].get("p50_ms") for n in names}
        allp50 = {n: engines[n]["all"].get("p50_ms") for n in names}
        result["engines"] = engines
        result["ratios"] = {
            "full_rewrite_p50_hf_fp32_over_llamacpp_q8_0": round(p50["hf_fp32"] / p50["llamacpp_q8_0"], 2),
            "full_rewrite_p50_hf_int8_over_llamacpp_q8_0": round(p50["hf_int8"] / p50["llamacpp_q8_0"], 2),
            "all_p50_hf_fp32_over_llamacpp_q8_0": round(allp50["hf_fp32"] / allp50["llamacpp_q8_0"], 2),
            "grammar_cost_q8_0_p50_grounded_over_ungrounded": round(allp50["llamacpp_q8_0"] / allp50["llamacpp_q8_0_ungrounded"], 3),
        }
        # throughput: 8 concurrent clients on the server vs hf batched vs llama.cpp in-process sequential
        tq = _queries("test", 200)[100 : 100 + 5 * a.clients]
        srv = Rewriter(_config("server_q8_0", adapter, a.mode, ggufs, url)).load()
        t = time.perf_counter()
        with ThreadPoolExecutor(a.clients) as pool:
            list(pool.map(srv.rewrite, tq))
        thr = {"server_q8_0_clients": a.clients, "server_q8_0_qps": round(len(tq) / (time.perf_counter() - t), 2)}
        for n in ("hf_fp32", "hf_int8"):
            t = time.perf_counter()
            rws[n].rewrite_batch(tq, batch_size=8)
            thr[f"{n}_batch8_qps"] = round(len(tq) / (time.perf_counter() - t), 2)
        t = time.perf_counter()
        rws["llamacpp_q8_0"].rewrite_batch(tq)
        thr["llamacpp_q8_0_sequential_qps"] = round(len(tq) / (time.perf_counter() - t), 2)
        result["throughput"] = {**thr, "queries": len(tq)}
        if a.parity:
            vq = _queries("val", a.parity)
            h = rws["hf_fp32"].rewrite_batch(vq)
            f = rws["llamacpp_f16"].rewrite_batch(vq)
            same = sum(_key(x) == _key(y) for x, y in zip(h, f, strict=True))
            result["parity_val"] = {"queries": len(vq), "f16_identical_to_hf_fp32": same, "share": round(same / len(vq), 3)}
    finally:
        proc.kill()
    result["peak_rss_mb_per_process"] = _rss(adapter, a.mode, ggufs)
    result["seconds"] = round(time.time() - t_all, 1)
    write(out_path, result)


if __name__ == "__main__":
    main()
