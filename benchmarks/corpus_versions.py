"""data/newswire v1 against v2: the default config trained on each, scored on corpora it
never saw (PolNeAR dev for quotes, CoNLL-2003 valid for entities) and on the frozen v2
newswire test split.

Each arm is one training run and three evaluations, all with the same code:

    # v1: git show newswire-v1:data/newswire/{train,dev}.jsonl > V1/{train,dev}.jsonl
    OMP_NUM_THREADS=1 newstag train -c configs/default.yaml --set train.0.path=V1/train.jsonl \\
        --set dev.0.path=V1/dev.jsonl --set training.seed=13 --set training.num_threads=1 -o RUNS/v1-s13
    newstag evaluate -m RUNS/v1-s13 -d .bench/data/polnear-dev.jsonl.gz --report RUNS/v1-s13-polnear-dev
    newstag evaluate -m RUNS/v1-s13 -d .bench/data/conll-valid.jsonl.gz --report RUNS/v1-s13-conll-valid
    newstag evaluate -m RUNS/v1-s13 -d data/newswire/test.jsonl --report RUNS/v1-s13-newswire-test
    # v2: the same with data/newswire/{train,dev}.jsonl; seeds 13 and 14 for each version

Then this script reads RUNS/*-{polnear-dev,conll-valid,newswire-test}/report.json and
prints the comparison (Markdown), and with --out writes it as JSON:

    python benchmarks/corpus_versions.py RUNS [--out benchmarks/results/corpus-v1-v2.json]
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

COLUMNS = [  # (heading, evaluation set, path in report.json)
    ("PolNeAR content exact", "polnear-dev", ("quotes", "content_exact", "f1")),
    ("PolNeAR cue", "polnear-dev", ("quotes", "cue", "f1")),
    ("PolNeAR speaker", "polnear-dev", ("quotes", "speaker", "f1")),
    ("PolNeAR attribution exact", "polnear-dev", ("quotes", "attribution_exact", "f1")),
    ("PolNeAR attribution overlap", "polnear-dev", ("quotes", "attribution_overlap", "f1")),
    ("CoNLL valid entity", "conll-valid", ("entities", "micro avg", "f1")),
    ("test entity", "newswire-test", ("entities", "micro avg", "f1")),
    ("test content exact", "newswire-test", ("quotes", "content_exact", "f1")),
    ("test cue", "newswire-test", ("quotes", "cue", "f1")),
    ("test speaker", "newswire-test", ("quotes", "speaker", "f1")),
    ("test attribution exact", "newswire-test", ("quotes", "attribution_exact", "f1")),
    ("test entity ECE", "newswire-test", ("calibration", "entity", "ece")),
    ("test quote ECE", "newswire-test", ("calibration", "quote", "ece")),
]
ARM = re.compile(r"^(v\d+)-s(\d+)$")


def figure(report: dict, path) -> float | None:
    for key in path:
        if not isinstance(report, dict) or key not in report:
            return None
        report = report[key]
    return report


def read_arms(runs: Path) -> dict[str, dict]:
    """arm name (v1-s13) -> {heading: figure} for every arm with a trained model."""
    arms = {}
    for model in sorted(p for p in runs.iterdir() if p.is_dir() and ARM.match(p.name)):
        row = {}
        for heading, evaluation, path in COLUMNS:
            report = runs / f"{model.name}-{evaluation}" / "report.json"
            if report.is_file():
                row[heading] = figure(json.loads(report.read_text()), path)
        arms[model.name] = row
    return arms


def mean(values):
    values = [v for v in values if v is not None]
    return round(sum(values) / len(values), 2) if values else None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", type=Path)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    arms = read_arms(args.runs)
    versions = sorted({ARM.match(a).group(1) for a in arms})
    means = {v: {h: mean(row.get(h) for a, row in arms.items() if a.startswith(v + "-")) for h, _, _ in COLUMNS}
             for v in versions}
    headings = [h for h, _, _ in COLUMNS]
    print("| arm | " + " | ".join(headings) + " |")
    print("|---|" + "---:|" * len(headings))
    for name, row in [*arms.items(), *((f"{v} mean", m) for v, m in means.items())]:
        print(f"| {name} | " + " | ".join("–" if row.get(h) is None else f"{row[h]}" for h in headings) + " |")
    if args.out:
        args.out.write_text(json.dumps({"arms": arms, "means": means}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
