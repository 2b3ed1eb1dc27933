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

from newstag.alignment import to_pieces  # noqa: E402
from newstag.document import read_jsonl  # noqa: E402
from newstag.evaluation import evaluate, headline  # noqa: E402
from newstag.inference import Tagger, build_document, decode_spans, word_log_probs  # noqa: E402
from newstag.linking import link  # noqa: E402
from newstag.training import label_transitions  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--train", type=Path, required=True, help="the model's training data (the prior's counts)")
    ap.add_argument("--eval", type=Path, required=True)
    ap.add_argument("--weights", default="0,0.2,0.3,0.5,1")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    tagger = Tagger.load(args.model, device="cpu", linker="rule")
    settings = tagger.model.settings
    settings["transitions"] = label_transitions(read_jsonl(args.train), tagger.model)
    gold = read_jsonl(args.eval)
    result = {"date": time.strftime("%Y-%m-%d %H:%M"), "model": str(args.model), "train": str(args.train),
              "eval": str(args.eval), "by_weight": {}}
    # The encoder runs once; only decoding depends on the weight.
    pieces = [to_pieces(tagger.tokenizer, d.text) for d in gold]
    scores = word_log_probs(tagger.model, tagger.tokenizer, pieces, 16, tagger.device)
    for weight in (float(w) for w in args.weights.split(",")):
        settings["transition_weight"] = weight
        report = evaluate(gold, [build_document(d, decode_spans(p, e, q, tagger.model), link)
                                 for d, p, (e, q) in zip(gold, pieces, scores)])
        row = headline(report)
        if report["entities"]:
            row |= {f"entity_f1_{k}": v["f1"] for k, v in report["entities"].items() if k in ("PER", "ORG", "LOC", "MISC")}
        result["by_weight"][str(weight)] = row
        print(weight, json.dumps(row), flush=True)
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
