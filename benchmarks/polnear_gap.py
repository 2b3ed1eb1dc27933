"""Where a newswire-trained model falls short of PolNeAR's attributions, read on PolNeAR
*train* (dev is kept for measuring transfer, never for looking at errors).

    python benchmarks/polnear_gap.py --model MODEL --polnear .bench/data/polnear-train.jsonl.gz \
        --corpus data/newswire/train.jsonl --every 8 --limit 70 --out benchmarks/results/polnear-gap.json

Tags every ``--every``-th PolNeAR train article (at most ``--limit``) and splits the gold
attributions by whether their cue text (lower-cased) is ever a cue in ``--corpus``, the
model's training corpus: a model can hardly find attributions of a kind it was never
shown. For each part: how many gold attributions, and the share the model finds (a
predicted content overlapping the gold one). Also: content spans found with the exact
boundaries, and predicted contents that overlap no gold attribution.
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from emit import emit

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from newstag.document import read_jsonl  # noqa: E402


def overlaps(a, b) -> bool:
    return min(a.end, b.end) > max(a.start, b.start)


def cue_text(quote) -> str:
    return quote.cue.text.lower() if quote.cue else ""


def gap(gold_docs, predicted_docs, known_cues: set[str]) -> dict:
    found, total, exact, spurious, predicted = Counter(), Counter(), 0, 0, 0
    for gold, pred in zip(gold_docs, predicted_docs):
        for q in gold.quotes:
            part = "cue seen in the training corpus" if cue_text(q) in known_cues else "cue never in the training corpus"
            total[part] += 1
            found[part] += any(overlaps(q, p) for p in pred.quotes)
            exact += any((q.start, q.end) == (p.start, p.end) for p in pred.quotes)
        predicted += len(pred.quotes)
        spurious += sum(not any(overlaps(p, q) for q in gold.quotes) for p in pred.quotes)
    gold_total = sum(total.values())
    return {"articles": len(gold_docs), "gold attributions": gold_total, "predicted attributions": predicted,
            "content exact (of gold)": exact, "predicted overlapping no gold": spurious,
            "parts": {part: {"gold": n, "share of gold %": round(100 * n / gold_total, 1),
                             "found %": round(100 * found[part] / n, 1)} for part, n in sorted(total.items())}}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--polnear", type=Path, required=True, help="PolNeAR train as JSONL (accuracy.py prepare)")
    ap.add_argument("--corpus", type=Path, default=Path("data/newswire/train.jsonl"))
    ap.add_argument("--every", type=int, default=8)
    ap.add_argument("--limit", type=int, default=70)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()

    from newstag.tagger import Tagger

    try:
        known = {cue_text(q) for d in read_jsonl(args.corpus) for q in d.quotes if q.cue}
        gold = read_jsonl(args.polnear)[::args.every][:args.limit]
        tagger = Tagger.load(args.model)
    except (OSError, ValueError) as exc:  # ModelDirError and FormatError are ValueErrors; a wrong path or a broken record: one line
        sys.exit(f"polnear_gap: {exc}")
    predicted = list(tagger.pipe(gold))
    result = {"model": args.model, "polnear": str(args.polnear), "corpus": str(args.corpus),
              "distinct cue texts in the corpus": len(known), **gap(gold, predicted, known)}
    emit(result, args.out)


if __name__ == "__main__":
    main()
