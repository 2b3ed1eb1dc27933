"""Accuracy of each inference backend against PyTorch, on the same model and data.

    newstag export --model MODEL
    newstag calibrate --model MODEL --data data/newswire/dev.jsonl --backend onnx-int8
    python benchmarks/backends.py --model MODEL --work DIR --out benchmarks/results/backends-accuracy.json \
        --data newswire-test=data/newswire/test.jsonl --data conll-valid=.bench/data/conll-valid.jsonl.gz \
        --data polnear-dev=.bench/data/polnear-dev.jsonl.gz

Runs ``newstag evaluate --backend B --report DIR/B-NAME`` for each backend and dataset
(a report already in DIR is reused: the same command made it), then writes every
headline figure (entity F1, content exact, cue, speaker, attribution exact F1,
attribution accuracy) and each score's calibration error per backend, with the
differences to torch. int8 passes when no headline figure falls more than 0.5 below torch.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from emit import emit

TOLERANCE = 0.5


def figures(report: dict) -> dict:
    out = {}
    if report.get("entities"):
        out["entity_f1"] = report["entities"]["micro avg"]["f1"]
    q = report.get("quotes")
    if q:
        out |= {"content_exact_f1": q["content_exact"]["f1"], "cue_f1": q["cue"]["f1"],
                "speaker_f1": q["speaker"]["f1"], "attribution_exact_f1": q["attribution_exact"]["f1"],
                "attribution_accuracy": q["attribution_accuracy"]}
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--data", action="append", required=True, help="NAME=FILE (repeatable)")
    ap.add_argument("--backends", default="torch,onnx-int8")
    ap.add_argument("--work", type=Path, required=True, help="folder for the evaluation reports")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    backends = args.backends.split(",")
    result = {"date": time.strftime("%Y-%m-%d %H:%M"), "model": str(args.model), "figures": {}, "ece": {},
              "difference_to_torch": {}, "tolerance": TOLERANCE}
    for item in args.data:
        name, path = item.split("=", 1)
        for backend in backends:
            folder = args.work / f"{backend}-{name}"
            if not (folder / "report.json").is_file():
                cmd = [sys.executable, "-m", "newstag.cli", "evaluate", "-m", str(args.model), "-d", path,
                       "--backend", backend, "--report", str(folder)]
                done = subprocess.run(cmd, capture_output=True, text=True)
                if done.returncode:
                    sys.exit(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
            report = json.loads((folder / "report.json").read_text())
            result["figures"].setdefault(name, {})[backend] = figures(report)
            result["ece"].setdefault(name, {})[backend] = {k: v.get("ece") for k, v in report.get("calibration", {}).items()
                                                          if isinstance(v, dict)}
        torch_figures = result["figures"][name]["torch"]
        for backend in backends[1:]:
            diff = {k: round(v - torch_figures[k], 2) for k, v in result["figures"][name][backend].items()}
            result["difference_to_torch"].setdefault(name, {})[backend] = diff
    result["within_tolerance"] = {b: all(d[b][k] >= -TOLERANCE for d in result["difference_to_torch"].values()
                                         for k in d[b]) for b in backends[1:]}
    emit(result, args.out)


if __name__ == "__main__":
    main()
