#!/usr/bin/env bash
# One prepared GPU run (≈ 8 min on an H200): time the `embedded` preset stage by stage, then train
# more whole chains (seeds 3, 4, 5) on the same MPADE outputs for PRO's seed-to-seed spread.
#   bash benchmarks/gpu_train.sh [OUT_DIR] [MPADE_DIR]
# MPADE_DIR (default runs/embedded/mpade) is reused: MPADE needs WordNet and gains little from a GPU.
# Evaluate what comes back on any machine with `raqo compare` (results/gpu_train/README.md).
set -uo pipefail
OUT=${1:-${OUT:-/tmp/raqo-gpu-train}}
MPADE=${2:-runs/embedded/mpade}
SEEDS=${SEEDS:-3 4 5}
PY=${PY:-python3}
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
timeout 300 $PY -m benchmarks.train_timing --config training/configs/embedded.yaml --mpade "$MPADE" \
  --run-dir /tmp/raqo-gpu-run --out "$OUT/train_embedded_cuda.json" > "$OUT/timing.log" 2>&1
echo "timing rc=$?" | tee -a "$OUT/gpu.txt"
(cd /tmp/raqo-gpu-run/embedded && tar cf "$OUT/seed0.tar" adapter train_summary.json ./*/stage.json)
for s in $SEEDS; do
  sed "s/^seed: 0/seed: $s/" training/configs/embedded.yaml > "/tmp/raqo-seed$s.yaml"
  mkdir -p "/tmp/raqo-seeds/s$s/embedded" && cp -r "$MPADE" "/tmp/raqo-seeds/s$s/embedded/mpade"
  t0=$(date +%s)
  timeout 400 $PY -m raqo_core.cli train --config "/tmp/raqo-seed$s.yaml" --out "/tmp/raqo-seeds/s$s" >> "$OUT/seeds.log" 2>&1
  echo "seed $s rc=$? $(($(date +%s) - t0)) s" | tee -a "$OUT/gpu.txt"
  (cd "/tmp/raqo-seeds/s$s/embedded" && tar cf "$OUT/s$s.tar" --exclude=tokenizer.json --exclude='checkpoint-*' \
    train_summary.json ccd+qre/adapter ccd+qre+pro/adapter ./*/stage.json)
done
ls -la "$OUT"
