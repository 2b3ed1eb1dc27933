"""Scoring predictions against gold documents.

* entities: seqeval, strict IOB2 over words, per label and micro averaged;
* quotes: exact-span P/R/F1 for contents, cues and speakers; word-overlap P/R/F1 for
  content; kind accuracy of found quotes;
* attribution: a predicted quote is correct when its span matches a gold quote (exactly,
  or with at least half of the words of each shared) and its speaker is the gold one.
  "The same speaker" means the predicted speaker or the name it resolves to overlaps the
  gold speaker or the name it resolves to, or both resolve to the same surname. Recall
  is also split by where the gold speaker stands and by quote kind.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from .document import Document, Quote
from .matching import best_match, same_speaker, word_set
from .text import Sentences, spans_to_bio, split_words


def prf(tp: float, n_pred: float, n_gold: float) -> dict:
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(100 * p, 2), "recall": round(100 * r, 2), "f1": round(100 * f, 2),
            "support": int(n_gold), "predicted": int(n_pred)}


def pair_documents(gold: list[Document], pred: list[Document]) -> list[tuple[Document, Document]]:
    """(gold, prediction) by id; repeated gold ids are an error (a document counted twice)."""
    repeated = sorted(i for i, n in Counter(d.id for d in gold).items() if n > 1)
    if repeated:
        raise ValueError(f"gold document ids repeat: {', '.join(map(repr, repeated[:5]))}"
                         f"{' ...' if len(repeated) > 5 else ''}; every document needs its own id")
    by_id = {d.id: d for d in pred}
    pairs = []
    for g in gold:
        p = by_id.get(g.id)
        if p is None:
            raise ValueError(f"no prediction for gold document {g.id!r}")
        if p.text != g.text:
            raise ValueError(f"document {g.id!r}: prediction text differs from gold text")
        pairs.append((g, p))
    return pairs


def entity_tags(gold: Document, pred: Document) -> tuple[list[str], list[str]]:
    """The IOB2 tags of a document's words, gold and predicted: what seqeval scores."""
    words = split_words(gold.text)
    return (spans_to_bio(words, [(e.start, e.end, e.label) for e in gold.entities]),
            spans_to_bio(words, [(e.start, e.end, e.label) for e in pred.entities]))


def entity_scores(pairs) -> dict:
    from seqeval.metrics import classification_report
    from seqeval.scheme import IOB2

    tags = [entity_tags(g, p) for g, p in pairs if "entities" in g.layers]
    if not tags:
        return {}
    y_true, y_pred = [t for t, _ in tags], [p for _, p in tags]
    report = classification_report(y_true, y_pred, mode="strict", scheme=IOB2, output_dict=True, zero_division=0)
    out = {}
    for label, row in report.items():
        out[label] = {"precision": round(100 * float(row["precision"]), 2), "recall": round(100 * float(row["recall"]), 2),
                      "f1": round(100 * float(row["f1-score"]), 2), "support": int(row["support"])}
    return out


def _unique(spans) -> set[tuple[int, int]]:
    return {(s.start, s.end) for s in spans if s is not None}


def speaker_position(q: Quote, sentences: Sentences) -> str:
    """Where the gold speaker stands: same sentence, other sentence, or none."""
    if q.speaker is None:
        return "no speaker"
    same = sentences.index(q.speaker.start) in sentences.span(q.start, q.end)
    return "same sentence" if same else "other sentence"


def speaker_form(q: Quote) -> str:
    if q.speaker is None:
        return "no speaker"
    return "pronoun or description" if q.speaker_entity is not None else "name or anonymous"


def quote_counts(g: Document, p: Document) -> tuple[Counter, dict[str, Counter], Counter]:
    """One document's counts behind ``quote_scores``: spans and words (true positives, gold,
    predicted), gold quotes found and attributed, the gold quotes of each category, and the
    (gold kind, predicted kind) of the quotes found. Summed over documents they give the
    figures, so a bootstrap can resample documents by them (compare.py)."""
    counts = Counter()
    by_category = defaultdict(Counter)
    kind_confusion = Counter()
    words = split_words(g.text)
    sentences = Sentences(g.text)
    for name, gold_spans, pred_spans in (
            ("content", _unique(g.quotes), _unique(p.quotes)),
            ("cue", _unique(q.cue for q in g.quotes), _unique(q.cue for q in p.quotes)),
            ("speaker", _unique(q.speaker for q in g.quotes), _unique(q.speaker for q in p.quotes))):
        counts[f"{name}_tp"] += len(gold_spans & pred_spans)
        counts[f"{name}_gold"] += len(gold_spans)
        counts[f"{name}_pred"] += len(pred_spans)
    gw = word_set(words, _unique(g.quotes))
    pw = word_set(words, _unique(p.quotes))
    counts["tok_tp"] += len(gw & pw)
    counts["tok_gold"] += len(gw)
    counts["tok_pred"] += len(pw)

    pred_sets = [word_set(words, [(q.start, q.end)]) for q in p.quotes]
    matched_pred = {"exact": set(), "overlap": set()}
    for gq in g.quotes:
        best, best_ov = best_match(words, gq, pred_sets)
        exact = best is not None and (p.quotes[best].start, p.quotes[best].end) == (gq.start, gq.end)
        overlap = best is not None and best_ov >= 0.5
        right = overlap and same_speaker(g.text, gq, p.quotes[best])
        cats = [f"position: {speaker_position(gq, sentences)}", f"speaker: {speaker_form(gq)}",
                f"kind: {gq.kind}"]
        for c in cats:
            by_category[c]["gold"] += 1
            by_category[c]["found"] += overlap
            by_category[c]["attributed"] += right
        counts["gold_quotes"] += 1
        counts["found_overlap"] += overlap
        if overlap:
            kind_confusion[(gq.kind, p.quotes[best].kind)] += 1
        # A predicted quote counts once as a true positive, however many gold quotes it matches.
        if right and best not in matched_pred["overlap"]:
            counts["attr_overlap_tp"] += 1
            matched_pred["overlap"].add(best)
        if exact and right and best not in matched_pred["exact"]:
            counts["attr_exact_tp"] += 1
            matched_pred["exact"].add(best)
    counts["pred_quotes"] += len(p.quotes)
    return counts, by_category, kind_confusion


def quote_scores(pairs) -> dict:
    counts = Counter()
    by_category = defaultdict(Counter)
    kind_confusion = Counter()
    for g, p in pairs:
        if "quotes" not in g.layers:
            continue
        doc_counts, doc_categories, doc_kinds = quote_counts(g, p)
        counts.update(doc_counts)
        kind_confusion.update(doc_kinds)
        for category, n in doc_categories.items():
            by_category[category].update(n)
    if not counts["gold_quotes"] and not counts["pred_quotes"]:
        return {}
    kinds_found = sum(kind_confusion.values())
    return {
        "content_exact": prf(counts["content_tp"], counts["content_pred"], counts["content_gold"]),
        "content_token": prf(counts["tok_tp"], counts["tok_pred"], counts["tok_gold"]),
        "cue": prf(counts["cue_tp"], counts["cue_pred"], counts["cue_gold"]),
        "speaker": prf(counts["speaker_tp"], counts["speaker_pred"], counts["speaker_gold"]),
        "kind_accuracy": round(100 * sum(v for (a, b), v in kind_confusion.items() if a == b) / kinds_found, 2) if kinds_found else 0.0,
        "attribution_exact": prf(counts["attr_exact_tp"], counts["pred_quotes"], counts["gold_quotes"]),
        "attribution_overlap": prf(counts["attr_overlap_tp"], counts["pred_quotes"], counts["gold_quotes"]),
        # The figure issue 2 names: share of gold quotes found (>= 50% overlap) with the right speaker.
        "attribution_accuracy": round(100 * counts["attr_overlap_tp"] / counts["gold_quotes"], 2) if counts["gold_quotes"] else 0.0,
        "recall_by_category": {c: {"gold": v["gold"], "found": round(100 * v["found"] / v["gold"], 2),
                                   "attributed": round(100 * v["attributed"] / v["gold"], 2)}
                               for c, v in sorted(by_category.items())},
    }


def evaluate(gold: list[Document], pred: list[Document], scores: bool = False) -> dict:
    """The report; with ``scores``, also how well the predictions' scores are calibrated
    (calibration.figures: ECE, AUROC, precision of scores >= 0.9, per kind)."""
    pairs = pair_documents(gold, pred)
    report = {"documents": len(pairs), "entities": entity_scores(pairs), "quotes": quote_scores(pairs)}
    if scores:
        from .calibration import figures, pooled_examples

        report["calibration"] = figures(pooled_examples(pairs))
    return report


def headline(report: dict) -> dict:
    """The few numbers shown during training and used to pick the best checkpoint."""
    out = {}
    if report.get("entities"):
        out["entity_f1"] = report["entities"]["micro avg"]["f1"]
    if report.get("quotes"):
        q = report["quotes"]
        out |= {"content_token_f1": q["content_token"]["f1"], "content_exact_f1": q["content_exact"]["f1"],
                "cue_f1": q["cue"]["f1"], "speaker_f1": q["speaker"]["f1"],
                "attribution_accuracy": q["attribution_accuracy"]}
    return out


def selection_score(report: dict) -> float:
    h = headline(report)
    parts = [h[k] for k in ("entity_f1", "content_token_f1", "speaker_f1") if k in h]
    return sum(parts) / len(parts) if parts else 0.0


def to_markdown(report: dict, title: str = "newstag evaluation") -> str:
    lines = [f"# {title}", "", f"Documents: {report['documents']}", ""]
    if report.get("entities"):
        lines += ["## Entities (seqeval, strict IOB2)", "", "| label | precision | recall | F1 | support |",
                  "|---|---:|---:|---:|---:|"]
        for label, r in report["entities"].items():
            lines.append(f"| {label} | {r['precision']:.2f} | {r['recall']:.2f} | {r['f1']:.2f} | {r['support']} |")
        lines.append("")
    q = report.get("quotes")
    if q:
        lines += ["## Quotes", "", "| measure | precision | recall | F1 | gold |", "|---|---:|---:|---:|---:|"]
        for name in ("content_exact", "content_token", "cue", "speaker", "attribution_exact", "attribution_overlap"):
            r = q[name]
            lines.append(f"| {name} | {r['precision']:.2f} | {r['recall']:.2f} | {r['f1']:.2f} | {r['support']} |")
        lines += ["", f"Attribution accuracy (gold quotes found with the right speaker): {q['attribution_accuracy']:.2f}",
                  f"Kind accuracy of found quotes: {q['kind_accuracy']:.2f}", "",
                  "| gold quotes by category | n | found % | right speaker % |", "|---|---:|---:|---:|"]
        for c, r in q["recall_by_category"].items():
            lines.append(f"| {c} | {r['gold']} | {r['found']:.2f} | {r['attributed']:.2f} |")
    if report.get("calibration"):
        lines += ["", "## Scores (what each means: src/newstag/calibration.py)", "",
                  "| score | scored | right % | ECE | AUROC | scored >= 0.9 | their precision (95 % interval) |",
                  "|---|---:|---:|---:|---:|---:|---|"]
        for kind, r in report["calibration"].items():
            high = r["at_least_0.9"]
            interval = f"{high['precision']:.2f} ({high['interval'][0]:.2f}–{high['interval'][1]:.2f})" if high["count"] else "–"
            auroc = "–" if r["auroc"] is None else f"{r['auroc']:.3f}"
            lines.append(f"| {kind} | {r['examples']} | {r['right']:.2f} | {r['ece']:.3f} | {auroc} | {high['count']} | {interval} |")
    return "\n".join(lines) + "\n"
