#!/usr/bin/env bash
# One short prepared GPU check (≤ 10 min): CUDA EP parity and throughput vs torch CUDA, fp32 and fp16.
#   bash benchmarks/gpu_check.sh [OUT_DIR]
# Needs onnxruntime-gpu (extra `gpu`, NOT beside onnxruntime) and a CUDA torch build.
set -euo pipefail
OUT=${1:-${OUT:-results/bench}}
mkdir -p "$OUT"
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
PY=${PY:-python3}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
$PY - <<'PY'
import onnxruntime as ort, torch
print("ort", ort.__version__, ort.get_available_providers(), "torch", torch.__version__, torch.cuda.is_available())
PY
timeout 480 $PY -m benchmarks.onnx_vs_torch --device cuda --threads 8 --out "$OUT/onnx_vs_torch_cuda.json"
timeout 60 $PY -m benchmarks.encode_throughput --device cuda --out "$OUT/encode_throughput_cuda.json"
