#!/usr/bin/env bash
# Train on a lent GPU machine in one call, from what scripts/gpu_pack.py put in PACK (default .carry),
# and leave the fp16 weights, config, log and curve in OUT (the device tool brings $OUT back).
#
#   device run, carry [".carry"], timeout_s 600:
#     bash scripts/gpu_train.sh .carry "$OUT" 8          # 8 minutes of training
#   here, one step on the CPU to check it before spending device time:
#     bash scripts/gpu_train.sh .carry /tmp/gpu_out 0.2 cpu
set -euo pipefail
PACK=${1:-.carry}; OUT=${2:-$OUT}; MINUTES=${3:-8}; DEVICE=${4:-cuda}
PY=${PYTHON:-python3}
if [ "$DEVICE" = cuda ]; then
  # The device image has torch, numpy, Pillow, safetensors, tqdm, PyYAML, matplotlib; rapidfuzz travels as a wheel.
  $PY -m pip install -q --no-index --no-deps --no-compile --target /tmp/site "$PACK"/whl/*.whl
  export PYTHONPATH="/tmp/site:$PWD"
  WORKERS=12
else
  export PYTHONPATH="$PWD"
  WORKERS=0
fi
export PYTHONUNBUFFERED=1
TRAIN=()
for set in "$PACK"/data/*/; do TRAIN+=(--train "${set%/}"); done
$PY -m sparkhtr.cli.main train --config configs/gpu_stage.yaml "${TRAIN[@]}" --init-from "$PACK/init" \
  --device "$DEVICE" --workers "$WORKERS" --max-minutes "$MINUTES" --out "$OUT/run" 2>&1 | tail -n 40
$PY - "$OUT/run" "$OUT/model" <<'PY'
import sys, torch
from sparkhtr.model.files import load_model, save_model
model, config = load_model(sys.argv[1])
save_model(sys.argv[2], model, config, dtype=torch.float16)
print("fp16 model in", sys.argv[2])
PY
cp "$OUT"/run/log.jsonl "$OUT"/run/curve.png "$OUT"/model/ 2>/dev/null || true
rm -rf "$OUT/run"
