#!/usr/bin/env bash
# The accuracy benchmark on a lent GPU machine (see BENCHMARKS.md). Expects, carried
# beside the checkout and never committed: .bench/data (prepared corpora),
# .bench/minilm (the offline MiniLM, stored fp16 to fit the transfer), .bench/whl
# (wheels the GPU image lacks) and .bench/pylib (seqeval's source).
set -uo pipefail
OUT=${OUT:-/tmp/out}
source benchmarks/device_setup.sh
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
python3 benchmarks/accuracy.py run --encoder .bench/minilm --tasks "${TASKS:-conll,hf,polnear,mix,newswire}" \
  --epochs "${EPOCHS:-3}" --quiet --out "$OUT/accuracy-gpu.json" --models /tmp/models "$@" 2>&1 \
  | quiet | tee "$OUT/log.txt"
