"""A model's score calibration on data it was not calibrated on: raw and calibrated side by side.

    python benchmarks/calibration_heldout.py --model MODEL --data FILE [--backend torch] [--out FILE]

Tags FILE once with raw scores (span marginals), then applies the maps stored in the
model's manifest for that backend (fitted on its dev data by `newstag train` or `newstag
calibrate`), and reports per score kind the expected calibration error, AUROC and the
precision of spans scored >= 0.9 (bootstrap interval), before and after: calibration.py's
figures. The maps are never refitted here: FILE is held out.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from emit import emit

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--backend", default="torch")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()

    from newstag import calibration
    from newstag.document import read_jsonl
    from newstag.modeldir import read_calibration
    from newstag.tagger import Tagger

    maps = calibration.from_json(read_calibration(args.model, args.backend))
    if not maps:
        sys.exit(f"{args.model}: no calibration maps for the {args.backend} backend")
    gold = read_jsonl(args.data)
    tagger = Tagger.load(args.model, calibrated=False, backend=args.backend)
    pairs = list(zip(gold, tagger.pipe(gold, batch_size=16)))
    result = {"date": time.strftime("%Y-%m-%d %H:%M"), "model": str(args.model), "data": str(args.data),
              "backend": args.backend, **calibration.raw_and_calibrated_figures(pairs, maps)}
    emit(result, args.out)


if __name__ == "__main__":
    main()
