"""Decoding with and without the tag-transition prior, side by side on one model.

    python benchmarks/transition_prior.py --model models/newswire --train data/newswire/train.jsonl \\
        --eval data/newswire/dev.jsonl [--weights 0,0.2,0.3,0.5,1] [--out FILE]

The prior (decoding.py) is counted from the labels of --train, as training does, and
the same trained tagger decodes --eval at each weight; links by the rule linker so the
figures are the tagger's. Weight 0 is decoding under the hard BIO constraints alone.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from newstag.document import read_jsonl  # noqa: E402
from newstag.evaluation import evaluate, headline  # noqa: E402
from newstag.labels import corpus_statistics  # noqa: E402
from newstag.tagger import Tagger  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--train", type=Path, required=True, help="the model's training data (the prior's counts)")
    ap.add_argument("--eval", type=Path, required=True)
    ap.add_argument("--weights", default="0,0.2,0.3,0.5,1")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    tagger = Tagger.load(args.model, device="cpu", linker="rule")
    spec = tagger.model.spec
    counted = corpus_statistics(read_jsonl(args.train), spec.model.entity_labels).transitions
    gold = read_jsonl(args.eval)
    result = {"date": time.strftime("%Y-%m-%d %H:%M"), "model": str(args.model), "train": str(args.train),
              "eval": str(args.eval), "by_weight": {}}
    # The encoder runs once; only decoding depends on the weight.
    pieces, windows = tagger.preprocess(gold)
    scores = tagger.forward(pieces, windows)
    for weight in (float(w) for w in args.weights.split(",")):
        model_config = spec.model.model_copy(update={"transition_weight": weight})
        tagger.model.spec = spec.model_copy(update={"model": model_config, "transitions": counted})
        report = evaluate(gold, [tagger.postprocess(d, found) for d, found in zip(gold, tagger.decode(pieces, scores))])
        row = headline(report)
        if report["entities"]:
            row |= {f"entity_f1_{k}": v["f1"] for k, v in report["entities"].items() if k in ("PER", "ORG", "LOC", "MISC")}
        result["by_weight"][str(weight)] = row
        print(weight, json.dumps(row), flush=True)
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
