#!/usr/bin/env bash
# Calibration of a PolNeAR-trained model, held out: the default config trained on PolNeAR
# train less a tenth of its articles (every 10th, by position), that tenth its dev set
# (early stopping and the calibration maps fitted at the end of training), then scored on
# PolNeAR dev, which it never saw: raw and calibrated ECE, AUROC, precision at >= 0.9.
#   bash benchmarks/calibration_polnear.sh [EPOCHS] [OUT]     (needs .bench/data: accuracy.py prepare)
set -euo pipefail
EPOCHS=${1:-3}
OUT=${2:-.bench/models/polnear-calibration}
D=.bench/data
python - <<'PY'
import gzip, json
lines = gzip.open(".bench/data/polnear-train.jsonl.gz", "rt", encoding="utf-8").read().splitlines()
for name, keep in (("polnear-train-90", lambda i: i % 10), ("polnear-train-10", lambda i: not i % 10)):
    with gzip.open(f".bench/data/{name}.jsonl.gz", "wt", encoding="utf-8") as fh:
        fh.writelines(line + "\n" for i, line in enumerate(lines) if keep(i))
PY
python -m newstag.cli train --config configs/default.yaml --output "$OUT" --no-progress \
  --set name=polnear --set train.0.name=polnear --set train.0.path=$D/polnear-train-90.jsonl.gz \
  --set dev.0.name=polnear --set dev.0.path=$D/polnear-train-10.jsonl.gz --set training.epochs=$EPOCHS \
  --set model.linker_spans=gold
python -m newstag.cli evaluate --model "$OUT" --data $D/polnear-dev.jsonl.gz --report "$OUT-polnear-dev"
python benchmarks/calibration_heldout.py --model "$OUT" --data $D/polnear-dev.jsonl.gz --out "$OUT-polnear-dev/calibration-heldout.json"
