#!/usr/bin/env bash
# Issue 5 (and 4) on a lent GPU machine, in one call: longer-trained taggers, then the
# rule vs learned linker benchmark on their PolNeAR dev spans. Carries, like
# device_accuracy.sh: .bench/data, .bench/minilm, .bench/whl, .bench/pylib (never committed).
# Results land in $OUT/results.tgz.* (unpack: `cat results.tgz.* | tar -xzf -`): JSON,
# logs, and the taggers' spans for rerunning linkers on a CPU (`benchmarks/linker.py
# --spans`); the mix model in $OUT/mix.tar.* (fp16; `cat mix.tar.* | tar -xf -`).
set -uo pipefail
OUT=${OUT:-/tmp/out}
EPOCHS=${EPOCHS:-8}
R=/tmp/r  # packed into $OUT/results.tar after each step: a cut-off run keeps what it finished
mkdir -p "$R"
DEVICE=${DEVICE:-cuda}
LIMIT=${LIMIT:+--limit $LIMIT}  # smoke runs only
CRF=${CRF:+--crf}  # CRF=1: CRF heads
source benchmarks/device_setup.sh
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$R/gpu.txt"
D=.bench/data
accuracy() {  # accuracy() NAME TASKS [extra args]
  local name=$1 tasks=$2; shift 2
  echo "== $name $(date +%T)"
  python3 benchmarks/accuracy.py run --encoder .bench/minilm --tasks "$tasks" --epochs "$EPOCHS" --quiet \
    --out "$R/accuracy-$name.json" --models /tmp/models $LIMIT $CRF "$@" 2>&1 | quiet | tee "$R/log-$name.txt"
}
linker() {  # linker() NAME MODEL
  echo "== linker $1 $(date +%T)"
  python3 benchmarks/linker.py --train $D/polnear-train.jsonl.gz --eval $D/polnear-dev.jsonl.gz --model "$2" \
    --device "$DEVICE" $LIMIT --save-spans "$R/spans-$1.pkl" --out "$R/linker-$1.json" 2>&1 | quiet | tail -5
}
# The spans pickles pass 16 MiB (the transfer's limit per file): compress and split.
pack_results() { rm -f "$OUT"/results.tgz.*; tar -C /tmp -czf - r | split -b 16000000 - "$OUT/results.tgz."; }

accuracy mix mix
linker mix /tmp/models/mix
pack_results
accuracy conll512 conll --max-length 512 --stride 128
pack_results
accuracy polnear polnear
linker polnear /tmp/models/polnear
pack_results
# The mix model, fp16, split to fit the transfer's 16 MiB per file.
python3 - <<'PY'
import shutil
from safetensors.torch import load_file, save_file
shutil.copytree("/tmp/models/mix", "/tmp/mix16/mix", ignore=shutil.ignore_patterns("model.safetensors"))
w = load_file("/tmp/models/mix/model.safetensors")
save_file({k: v.half() if v.is_floating_point() else v for k, v in w.items()}, "/tmp/mix16/mix/model.fp16.safetensors")
PY
tar -C /tmp/mix16 -cf - mix | split -b 16000000 - "$OUT/mix.tar."
echo "== done $(date +%T)"
