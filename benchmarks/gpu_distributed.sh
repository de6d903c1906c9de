#!/usr/bin/env bash
# One prepared GPU check for issue 24 (never a test dependency; not run yet: no GPU was lent):
#  1. the `embedded` preset under `accelerate launch --num_processes 1` (the launcher's code path on one GPU),
#     MPADE reused from MPADE_DIR;
#  2. the `paper` preset's hyperparameters for its first steps on what is on disk: the embedded SmolLM2 base,
#     retriever and benchmark (64 mined queries), after its dry run.
#   bash benchmarks/gpu_distributed.sh [OUT_DIR] [MPADE_DIR]     → OUT_DIR/summary.txt, logs, stage.json files
set -uo pipefail
OUT=${1:-/tmp/raqo-gpu-dist}
MPADE=${2:-runs/embedded/mpade}
PY=${PY:-python3}
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
mkdir -p "$OUT/runs/embedded"
nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$OUT/summary.txt"
cp -r "$MPADE" "$OUT/runs/embedded/mpade"
t0=$(date +%s)
timeout 420 $PY -m accelerate.commands.launch --num_processes 1 -m raqo_core.cli -v train --config embedded \
  --out "$OUT/runs" > "$OUT/embedded.log" 2>&1
echo "embedded (accelerate, 1 process) rc=$? $(($(date +%s) - t0)) s" | tee -a "$OUT/summary.txt"
sed -e 's/^base_model:.*/base_model: embedded/' -e 's/^data:.*/data: embedded/' \
    -e 's/^retriever:.*/retriever: embedded/' -e 's/^mpade:.*/mpade: {register: user, split: train, limit: 64, rounds: 1}/' "$($PY -c 'from raqo_core.training.pipeline import resolve_config; print(resolve_config("paper"))')" \
    > "$OUT/paper_small.yaml"
$PY -m raqo_core.cli train --config "$OUT/paper_small.yaml" --dry-run --out "$OUT/runs" > "$OUT/paper_plan.txt" 2>&1
echo "paper dry run rc=$?" | tee -a "$OUT/summary.txt"
t0=$(date +%s)
timeout 240 $PY -m accelerate.commands.launch --num_processes 1 -m raqo_core.cli -v train --config "$OUT/paper_small.yaml" \
  --out "$OUT/runs" > "$OUT/paper.log" 2>&1
echo "paper first steps rc=$? $(($(date +%s) - t0)) s" | tee -a "$OUT/summary.txt"
find "$OUT/runs" -name stage.json -exec cp --parents {} "$OUT" \; 2>/dev/null
ls -la "$OUT"
