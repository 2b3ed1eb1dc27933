"""Rule-based vs learned quote → speaker linking, side by side in one run.

    python benchmarks/linker.py --train data/newswire/train.jsonl --eval data/newswire/dev.jsonl [--model DIR]

Oracle mode (always): both linkers get the gold quote, cue, speaker and entity spans
with the links removed, so the figure is the linker's alone. With ``--model``, the
tagger's predicted spans are linked by each linker in turn (end to end).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from newstag.document import Document, Entity, Quote, Span, read_jsonl  # noqa: E402
from newstag.evaluation import evaluate  # noqa: E402
from newstag.learned_linker import LearnedLinker  # noqa: E402
from newstag.linking import LinkedQuote, SpanPred, link  # noqa: E402


def gold_inputs(doc: Document):
    quotes = [LinkedQuote(q.start, q.end, q.kind, 1.0) for q in doc.quotes]
    cues = list({(q.cue.start, q.cue.end): SpanPred(q.cue.start, q.cue.end, 1.0, "CUE") for q in doc.quotes if q.cue}.values())
    speakers = list({(q.speaker.start, q.speaker.end): SpanPred(q.speaker.start, q.speaker.end, 1.0, "SPEAKER")
                     for q in doc.quotes if q.speaker}.values())
    entities = [SpanPred(e.start, e.end, 1.0, e.label) for e in doc.entities]
    return quotes, cues, speakers, entities


def as_document(doc: Document, quotes: list[LinkedQuote]) -> Document:
    span = lambda p: None if p is None else Span(start=p.start, end=p.end)  # noqa: E731
    return Document(id=doc.id, text=doc.text, layers=doc.layers, entities=doc.entities,
                    quotes=[Quote(start=q.start, end=q.end, kind=q.kind, cue=span(q.cue), speaker=span(q.speaker),
                                  speaker_entity=span(q.speaker_entity)) for q in quotes])


def oracle(docs, linker) -> list[Document]:
    out = []
    for d in docs:
        quotes, cues, speakers, entities = gold_inputs(d)
        linker(d.text, quotes, cues, speakers, entities)
        out.append(as_document(d, quotes))
    return out


def summary(report: dict) -> dict:
    q = report["quotes"]
    return {"attribution_f1_exact": q["attribution_exact"]["f1"], "attribution_f1_overlap": q["attribution_overlap"]["f1"],
            "attribution_accuracy": q["attribution_accuracy"],
            "by_category": {c: v["attributed"] for c, v in q["recall_by_category"].items()}}


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--train", type=Path, required=True)
    ap.add_argument("--eval", type=Path, required=True)
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    train, gold = read_jsonl(args.train), read_jsonl(args.eval)
    learned = LearnedLinker()
    started = time.time()
    stats = learned.fit(train)
    result = {"train": str(args.train), "eval": str(args.eval), "linker_training_seconds": round(time.time() - started, 1),
              **stats, "oracle_spans": {"rule": summary(evaluate(gold, oracle(gold, link))),
                                        "learned": summary(evaluate(gold, oracle(gold, learned)))}}
    if args.model:
        from newstag.inference import Tagger

        tagger = Tagger.load(args.model, device="cpu")
        for name, linker in (("rule", link), ("learned", learned)):
            tagger.linker = linker
            result.setdefault("predicted_spans", {})[name] = summary(evaluate(gold, list(tagger.pipe(gold, batch_size=8))))
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
