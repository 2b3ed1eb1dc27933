"""Rule-based vs learned quote → speaker linking, side by side in one run.

    python benchmarks/linker.py --train data/newswire/train.jsonl --eval data/newswire/dev.jsonl [--model DIR]

Oracle mode (always): both linkers get the gold quote, cue, speaker and entity spans
with the links removed, so the figure is the linker's alone. With ``--model``, the
tagger's predicted spans of the eval documents are linked by each linker in turn (end
to end): the rule linker, the learned linker fitted on the gold spans of --train, and
the learned linker fitted on the tagger's own spans of --train (``learned_on_predicted``),
and ``best_possible``: the ceiling any linker choosing among the tagger's candidates has
on those spans.

Cross-fitting (``--heldout-spans``): the tagger has seen its own train split, so its
spans there are cleaner than on unseen text. Train taggers on disjoint parts of the train
split, save each one's spans of the part it did *not* see (``--save-spans`` with that part
as ``--train``), and pass those files: the learned linker is then also fitted on held-out
spans of the whole train split (``learned_on_heldout``) and on both kinds together
(``learned_on_seen_and_heldout``), beside the others, on the same eval spans.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from newstag.document import Document, read_jsonl  # noqa: E402
from newstag.evaluation import evaluate  # noqa: E402
from newstag.linking import Mention, PredictedQuote, Predictions, load_linker, relink  # noqa: E402
from newstag.linking.learned import LearnedLinker  # noqa: E402

link = load_linker("rule")


def linked_document(doc: Document, found: Predictions, linker) -> Document:
    return found.with_quotes(linker(doc.text, found)).to_document(doc)


def to_plain(found: Predictions) -> dict:
    return dataclasses.asdict(found)


def from_plain(plain: dict) -> Predictions:
    """Spans saved by --save-spans (JSON), back as Predictions."""
    mention = lambda m: m and Mention(**m)  # noqa: E731
    quotes = [PredictedQuote(**{**q, "cue": mention(q["cue"]), "speaker": mention(q["speaker"]),
                                "speaker_entity": mention(q["speaker_entity"])}) for q in plain["quotes"]]
    return Predictions(quotes, *([Mention(**m) for m in plain[k]] for k in ("cues", "speakers", "entities")),
                       layers=tuple(plain["layers"]))


def read_spans(path: Path) -> dict:
    saved = json.loads(path.read_text(encoding="utf-8"))
    return {**saved, "eval": [from_plain(f) for f in saved["eval"]], "train": [from_plain(f) for f in saved["train"]]}


def oracle(docs, linker) -> list[Document]:
    return [relink(d, linker) for d in docs]


def best_possible(gold: Document, found) -> Document:
    """The ceiling on these spans: each predicted quote that finds a gold quote gets a
    candidate naming the gold speaker where the tagger proposed one (no speaker where the
    gold quote has none); the rest keep the rule linker's choice. No linker choosing
    among the tagger's candidates can score higher."""
    from newstag.document import Span
    from newstag.matching import matched_quotes, names_gold_speaker

    doc = linked_document(gold, found, link)
    candidates = found.speakers + found.entities
    for i, gq in matched_quotes(gold.text, gold.quotes, doc.quotes).items():
        hit = next((c for c in candidates if names_gold_speaker(gold.text, gq, [c])), None)
        if gq.speaker is None or hit is not None:
            doc.quotes[i].speaker = hit and Span(start=hit.start, end=hit.end)
            doc.quotes[i].speaker_entity = None
    return doc


def heldout_spans(train: list[Document], files: list[Path]) -> list:
    """The tagger spans of each train document, from the file whose tagger did not see it.
    Every train document must appear in exactly one file."""
    by_id = {}
    for f in files:
        saved = read_spans(f)
        if "train_ids" not in saved:
            raise SystemExit(f"{f}: no train_ids (saved by an older linker.py); save the spans again")
        for doc_id, spans in zip(saved["train_ids"], saved["train"]):
            if doc_id in by_id:
                raise SystemExit(f"{f}: document {doc_id!r} is in more than one --heldout-spans file")
            by_id[doc_id] = spans
    missing = [d.id for d in train if d.id not in by_id]
    if missing:
        raise SystemExit(f"--heldout-spans: {len(missing)} train documents have no held-out spans, e.g. {missing[0]!r}")
    return [by_id[d.id] for d in train]


def summary(report: dict) -> dict:
    q = report["quotes"]
    return {"attribution_f1_exact": q["attribution_exact"]["f1"], "attribution_f1_overlap": q["attribution_overlap"]["f1"],
            "attribution_accuracy": q["attribution_accuracy"], "cue_f1": q["cue"]["f1"],
            "by_category": {c: v["attributed"] for c, v in q["recall_by_category"].items()}}


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--train", type=Path, required=True)
    ap.add_argument("--eval", type=Path, required=True)
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--device", default="cpu", help="where the tagger runs (cpu, cuda)")
    ap.add_argument("--save-spans", type=Path, default=None,
                    help="save the tagger's spans of --train and --eval here (JSON), to rerun linkers without the tagger")
    ap.add_argument("--spans", type=Path, default=None, help="spans saved by --save-spans, instead of --model")
    ap.add_argument("--heldout-spans", type=Path, nargs="+", default=None,
                    help="files from --save-spans runs whose --train part their tagger did not see; together they "
                         "must cover every --train document")
    ap.add_argument("--seed", type=int, default=13, help="seed of every learned linker's fit")
    ap.add_argument("--limit", type=int, default=None, help="documents per file (smoke runs)")
    args = ap.parse_args()
    with_quotes = lambda docs: [d for d in docs if "quotes" in d.layers][:args.limit]  # noqa: E731
    train, gold = with_quotes(read_jsonl(args.train)), with_quotes(read_jsonl(args.eval))
    learned = LearnedLinker()
    started = time.time()
    stats = learned.fit(train, seed=args.seed)
    result = {"train": str(args.train), "eval": str(args.eval), "linker_training_seconds": round(time.time() - started, 1),
              **stats, "oracle_spans": {"rule": summary(evaluate(gold, oracle(gold, link))),
                                        "learned": summary(evaluate(gold, oracle(gold, learned)))}}
    if args.model or args.spans:
        from newstag.tagger import Tagger

        started = time.time()
        if args.spans:
            saved = read_spans(args.spans)
            found, found_train = saved["eval"], saved["train"]
        else:
            tagger = Tagger.load(args.model, device=args.device)
            found, found_train = tagger.spans(gold), tagger.spans(train)
        result["tagging_seconds"] = round(time.time() - started, 1)
        if args.save_spans:
            args.save_spans.write_text(json.dumps({"eval": [to_plain(f) for f in found],
                                                   "train": [to_plain(f) for f in found_train],
                                                   "train_ids": [d.id for d in train]}))
        started = time.time()
        on_predicted = LearnedLinker()
        on_predicted.fit(train, predicted=found_train, seed=args.seed)
        result["learned_on_predicted_fit_seconds"] = round(time.time() - started, 1)
        linkers = [("rule", link), ("learned", learned), ("learned_on_predicted", on_predicted)]
        if args.heldout_spans:
            heldout = heldout_spans(train, args.heldout_spans)
            on_heldout, on_both = LearnedLinker(), LearnedLinker()
            on_heldout.fit(train, predicted=heldout, seed=args.seed)
            on_both.fit(train + train, predicted=found_train + heldout, seed=args.seed)
            linkers += [("learned_on_heldout", on_heldout), ("learned_on_seen_and_heldout", on_both)]
        for name, linker in linkers:
            linked = [linked_document(d, f, linker) for d, f in zip(gold, found)]
            result.setdefault("predicted_spans", {})[name] = summary(evaluate(gold, linked))
        ceiling = [best_possible(d, f) for d, f in zip(gold, found)]
        result["predicted_spans"]["best_possible"] = summary(evaluate(gold, ceiling))
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
