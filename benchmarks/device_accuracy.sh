#!/usr/bin/env bash
# The accuracy benchmark on a lent GPU machine (see BENCHMARKS.md). Expects, carried
# beside the checkout and never committed: .bench/data (prepared corpora),
# .bench/minilm (the offline MiniLM, stored fp16 to fit the transfer), .bench/whl
# (wheels the GPU image lacks) and .bench/pylib (seqeval's source).
set -uo pipefail
OUT=${OUT:-/tmp/out}
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .bench/whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD/.bench/pylib:$PWD/src PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=true
python3 - <<'PY'
from safetensors.torch import load_file, save_file
w = load_file(".bench/minilm/model.fp16.safetensors")
save_file({k: v.float() for k, v in w.items()}, ".bench/minilm/model.safetensors")
PY
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
python3 benchmarks/accuracy.py run --encoder .bench/minilm --tasks "${TASKS:-conll,hf,polnear,mix,newswire}" \
  --epochs "${EPOCHS:-3}" --quiet --out "$OUT/accuracy-gpu.json" --models /tmp/models "$@" 2>&1 \
  | grep -v -E "Warning|warn\(|LOAD REPORT|UNEXPECTED|MISSING|^Key|^---|^Notes|^- |^$|it/s\]" | tee "$OUT/log.txt"
