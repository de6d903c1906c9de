#!/usr/bin/env bash
# The rewriter on vLLM, on a lent GPU: export the shipped adapter merged, serve it, check parity with the
# in-process transformers engine and measure throughput with 32 concurrent clients; then the same with
# the LoRA alone (--enable-lora --lora-modules). Writes JSON under $OUT (or results/gpu_vllm).
# Needs: the repository's venv (make setup) plus `pip install vllm` on the GPU machine. Never a test dependency.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-results/gpu_vllm}
PY=${PY:-.venv/bin/python}
mkdir -p "$OUT"
EXP=$(mktemp -d)
"$PY" -m raqo_core.cli export-rewriter --adapter auto --out "$EXP" --format hf,lora
serve() {  # $1: log name, rest: vllm args
  local log="$OUT/$1.log"; shift
  "$PY" -m vllm.entrypoints.openai.api_server --host 127.0.0.1 --port 8000 --gpu-memory-utilization 0.3 "$@" >"$log" 2>&1 &
  echo $! >"$EXP/pid"
  for _ in $(seq 1 180); do curl -sf http://127.0.0.1:8000/v1/models >/dev/null && return 0; sleep 1; done
  echo "vLLM did not start; see $log" >&2; return 1
}
stop() { kill "$(cat "$EXP/pid")" 2>/dev/null || true; sleep 5; }
serve vllm_merged --model "$EXP/hf" --served-model-name raqo-rewriter --enable-prefix-caching
"$PY" -m benchmarks.server_check --url http://127.0.0.1:8000/v1 --device cuda --grammar vllm --out "$OUT/vllm_merged.json" || true
stop
# The LoRA alone on the matching base (the embedded base is the dequantised SmolLM2 GGUF: the hf export with no adapter).
"$PY" -m raqo_core.cli export-rewriter --adapter none --out "$EXP/base" --format hf 2>/dev/null || true
if [ -d "$EXP/base/hf" ]; then
  serve vllm_lora --model "$EXP/base/hf" --enable-lora --max-lora-rank 16 --lora-modules raqo-rewriter="$EXP/lora"
  "$PY" -m benchmarks.server_check --url http://127.0.0.1:8000/v1 --device cuda --grammar vllm --out "$OUT/vllm_lora.json" || true
  stop
fi
ls -la "$OUT"
