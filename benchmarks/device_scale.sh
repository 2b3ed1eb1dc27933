#!/usr/bin/env bash
# Issue 21 on a lent machine with several GPUs, in one call: training tokens/s of the
# default config on 1 GPU and on all of them (newstag train --processes N: accelerate,
# DDP over NCCL, bf16; the same global batch), then archive words/s of
# `predict --engine ray` with 1 worker and with one worker per GPU, on the newswire test
# articles repeated to ARTICLES. Carries, like device_accuracy.sh: .bench/data,
# .bench/minilm, .bench/whl, .bench/pylib (never committed), and Ray in the image or in
# .bench/whl. Results: $OUT/scale-gpu.json (and the runs' metrics.jsonl).
set -uo pipefail
OUT=${OUT:-/tmp/out}
EPOCHS=${EPOCHS:-2}
ARTICLES=${ARTICLES:-20000}
mkdir -p "$OUT"
source benchmarks/device_setup.sh
GPUS=$(nvidia-smi --query-gpu=name --format=csv,noheader | tee "$OUT/gpus.txt" | wc -l)
ENCODER=(--set model.encoder.package=null --set model.encoder.name_or_path=.bench/minilm)
for n in 1 "$GPUS"; do
  python3 -m newstag.cli train --config configs/default.yaml --set training.device=cuda --set training.epochs=$EPOCHS \
    "${ENCODER[@]}" --processes "$n" --output "/tmp/model-$n" --no-progress 2>&1 | quiet | tail -5
  cp "/tmp/model-$n/metrics.jsonl" "$OUT/train-$n-gpus-metrics.jsonl"
done
python3 - "$ARTICLES" <<'PY'
import json, sys
n = int(sys.argv[1])
base = [json.loads(l) for l in open("data/newswire/test.jsonl", encoding="utf-8")]
with open("/tmp/archive.jsonl", "w", encoding="utf-8") as fh:
    for i in range(n):
        fh.write(json.dumps({"id": f"a{i}", "text": base[i % len(base)]["text"]}) + "\n")
PY
mkdir -p /tmp/shards
split -n l/"$((GPUS * 4))" -d --additional-suffix=.jsonl /tmp/archive.jsonl /tmp/shards/part-  # 4 shards per GPU
WORDS=$(python3 -c "import json; print(sum(len(json.loads(l)['text'].split()) for l in open('/tmp/archive.jsonl')))")
{
  echo "{\"gpus\": $GPUS, \"articles\": $ARTICLES, \"words\": $WORDS, \"predict_seconds\": {"
  for w in 1 "$GPUS"; do
    start=$(date +%s.%N)
    python3 -m newstag.cli predict --engine ray --workers "$w" --device cuda --batch-size 64 --model "/tmp/model-$GPUS" \
      /tmp/shards/*.jsonl --output "/tmp/tagged-$w" > /dev/null 2>&1
    echo "\"ray $w workers\": $(python3 -c "import time; print(round(time.time() - $start, 1))"),"
  done
  echo "\"end\": null}}"
} > "$OUT/scale-gpu.json"
python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
result = json.load(open(f"{out}/scale-gpu.json"))
result["predict_seconds"].pop("end")
result["predict_words_per_second"] = {k: round(result["words"] / v, 1) for k, v in result["predict_seconds"].items()}
for n in sorted({1, result["gpus"]}):
    records = [json.loads(l) for l in open(f"{out}/train-{n}-gpus-metrics.jsonl")]
    result[f"train_tokens_per_second_{n}_gpus"] = [r["train_tokens_per_second"] for r in records if r.get("event") == "epoch"]
json.dump(result, open(f"{out}/scale-gpu.json", "w"), indent=2)
print(json.dumps(result, indent=2))
PY
