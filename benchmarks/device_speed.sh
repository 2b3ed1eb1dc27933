#!/usr/bin/env bash
# Issue 19 on a lent GPU machine, in one call: train the default model on the GPU (bf16;
# its metrics.jsonl gives training tokens/s), then inference words/s of newstag (bf16,
# window batches of 64) against the Hugging Face pipeline on the same encoder (bf16), on
# the same articles as benchmarks/speed.py on a CPU. Carries, like device_accuracy.sh:
# .bench/data, .bench/minilm, .bench/whl, .bench/pylib (never committed).
#   run: bash benchmarks/device_speed.sh    results: $OUT/speed-gpu.json, $OUT/train-metrics.jsonl
set -uo pipefail
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
source benchmarks/device_setup.sh
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
python3 -m newstag.cli train --config configs/default.yaml --set training.device=cuda \
  --set model.encoder.package=null --set model.encoder.name_or_path=.bench/minilm \
  --output /tmp/model --no-progress 2>&1 | quiet | tail -20
cp /tmp/model/metrics.jsonl "$OUT/train-metrics.jsonl"
python3 benchmarks/speed.py --model /tmp/model --device cuda --threads 16 --rounds 2 --words 60000 \
  --conll .bench/data/conll-valid.jsonl.gz --polnear .bench/data/polnear-dev.jsonl.gz \
  --systems "newstag torch,HF pipeline" --out "$OUT/speed-gpu.json" 2>&1 | quiet | tail -60
