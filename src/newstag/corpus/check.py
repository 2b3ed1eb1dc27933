"""``newstag data check``: everything that can be wrong with annotated documents.

Beyond the format itself (offsets in range, span text matching, valid fields), a
corpus must have: no overlapping spans within a layer, only known entity labels,
every ``speaker_entity`` on an entity mention, kinds that agree with the quotation
marks, no relative pronoun as the speaker of a cue its clause does not hold, and no
document in two splits.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from ..document import Document, FormatError, numbered_jsonl
from ..lexicon import NOMINAL_CUES, PRONOUNS, RELATIVE_PERSON, RELATIVE_THING
from ..quotemarks import kind_problem
from ..text import Sentences

def _overlap_problems(spans, what: str) -> list[str]:
    """Every pair of spans that overlap, nested ones included (not only neighbours)."""
    out = []
    spans = sorted(set(spans))
    for i, (a, b, la) in enumerate(spans):
        for c, d, lc in spans[i + 1:]:
            if c >= b:
                break  # sorted by start: no later span reaches back into this one
            out.append(f"{what} [{a}:{b}] ({la}) overlaps [{c}:{d}] ({lc})")
    return out


def check_document(doc: Document, labels: set[str]) -> list[str]:
    problems = []
    if "entities" in doc.layers:
        for e in doc.entities:
            if e.label not in labels:
                problems.append(f"entity [{e.start}:{e.end}] {e.text!r}: unknown label {e.label!r}")
        problems += _overlap_problems([(e.start, e.end, e.label) for e in doc.entities], "entity")
    quote_layer = {(q.start, q.end, "content") for q in doc.quotes}
    quote_layer |= {(q.cue.start, q.cue.end, "cue") for q in doc.quotes if q.cue}
    quote_layer |= {(q.speaker.start, q.speaker.end, "speaker") for q in doc.quotes if q.speaker}
    problems += _overlap_problems(quote_layer, "quote-layer span")
    mentions = {(e.start, e.end) for e in doc.entities}
    for i, q in enumerate(doc.quotes):
        rest = doc.text[q.end:].lstrip(" \t")
        p = None if is_transcript_answer(doc.text, q) else \
            kind_problem(q.text, q.kind, ends_paragraph=not rest or rest.startswith("\n"))
        if p:
            problems.append(f"quotes[{i}] {q.text[:40]!r}: {p}")
        p = closed_relative_clause(doc.text, q)
        if p:
            problems.append(f"quotes[{i}].speaker {q.speaker.text!r}: {p}")
        if q.speaker_entity is not None and "entities" in doc.layers and \
                (q.speaker_entity.start, q.speaker_entity.end) not in mentions:
            problems.append(f"quotes[{i}].speaker_entity {q.speaker_entity.text!r} is not an entity mention")
    return problems


def closed_relative_clause(text: str, q) -> str | None:
    """A relative pronoun is the speaker only when the cue is the verb of its own clause
    ("the union, which warned that ..."). When the clause closes before the cue ("the
    union, which represents dockers, said ..."), the source of the cue is the head noun
    phrase with its clause (data/README.md)."""
    s, c = q.speaker, q.cue
    if s is None or c is None or c.start < s.end or text[s.start:s.end].lower() not in RELATIVE_PERSON | RELATIVE_THING:
        return None
    if "," in text[s.end:c.start]:
        return "a relative pronoun whose clause closes before the cue; the speaker is the noun phrase it belongs to"
    return None


def is_transcript_answer(text: str, q) -> bool:
    """A transcript or Q&A line, "MINISTER: We will not.": the label is the speaker, the colon
    the cue, and the answer is direct speech that carries no quotation marks."""
    return q.kind == "direct" and q.cue is not None and text[q.cue.start:q.cue.end] == ":" \
        and not text[q.cue.end:q.start].strip()


def check_files(paths: list[str], labels) -> tuple[list[str], dict[str, list[Document]]]:
    problems, docs_by_file = [], {}
    labels = set(labels)
    seen_text, seen_id = {}, {}
    for path in paths:
        docs = []
        if not Path(path).is_file():
            problems.append(f"{path}: no such file")
            docs_by_file[path] = docs
            continue

        def report(exc: FormatError):
            problems.append(str(exc))

        for line, doc in numbered_jsonl(path, report):
            docs.append(doc)
            for p in check_document(doc, labels):
                problems.append(f"{path}:{line}: {doc.id}: {p}")
            key = " ".join(doc.text.split())
            if key in seen_text:
                problems.append(f"{path}: {doc.id}: same text as {seen_text[key]}")
            if doc.id in seen_id:
                problems.append(f"{path}: {doc.id}: id also used in {seen_id[doc.id]}")
            seen_text.setdefault(key, f"{path}: {doc.id}")
            seen_id.setdefault(doc.id, path)
        if not docs:
            problems.append(f"{path}: no documents")
        docs_by_file[path] = docs
    return problems, docs_by_file


def hard_cases(doc: Document) -> Counter:
    c = Counter()
    sentences = Sentences(doc.text)
    cue_uses = Counter((q.cue.start, q.cue.end) for q in doc.quotes if q.cue)
    for q in doc.quotes:
        if q.speaker is not None:
            if sentences.index(q.speaker.start) not in sentences.span(q.start, q.end):
                c["speaker outside the quote's sentence"] += 1
            if q.speaker.start > q.end:
                c["speaker after the quote"] += 1
            words = q.speaker.text.lower().split()
            if q.speaker_entity is not None:
                c["pronoun or description speaker"] += 1
                if words and words[-1] in PRONOUNS:
                    c["pronoun speaker"] += 1
                if words and words[-1] in RELATIVE_PERSON | RELATIVE_THING:
                    c["relative-pronoun speaker"] += 1
            elif not any(q.speaker.start <= e.start and e.end <= q.speaker.end for e in doc.entities):
                c["anonymous or unnamed speaker"] += 1
        else:
            c["no speaker"] += 1
        if q.cue is not None:
            if q.cue.text.lower() == "according to":
                c["'according to'"] += 1
            if q.cue.text.lower().split()[-1] in NOMINAL_CUES:
                c["nominal cue (statement, warning, ...)"] += 1
            if cue_uses[(q.cue.start, q.cue.end)] > 1:
                c["quote split or continued (shares its cue)"] += 1
        if q.kind == "mixed":
            c["partial quote inside indirect speech (mixed)"] += 1
    return c


def corpus_stats(docs_by_file: dict[str, list[Document]]) -> dict:
    out = {}
    for path, docs in docs_by_file.items():
        cases = Counter()
        for d in docs:
            cases += hard_cases(d)
        out[Path(path).name] = {
            "documents": len(docs),
            "words": sum(len(d.text.split()) for d in docs),
            "entities": dict(Counter(e.label for d in docs for e in d.entities).most_common()),
            "entity_mentions": sum(len(d.entities) for d in docs),
            "quotes": sum(len(d.quotes) for d in docs),
            "quote_kinds": dict(Counter(q.kind for d in docs for q in d.quotes).most_common()),
            "hard_cases": dict(sorted(cases.items())),
        }
    return out


def stats_markdown(stats: dict) -> str:
    """The data card's tables: counts per split, per entity label, per quote kind, per hard case."""
    splits = list(stats)
    rows = [("documents", lambda s: s["documents"]), ("words", lambda s: s["words"]),
            ("entity mentions", lambda s: s["entity_mentions"])]
    labels = sorted({l for s in stats.values() for l in s["entities"]})
    rows += [(f"  {l}", lambda s, l=l: s["entities"].get(l, 0)) for l in labels]
    rows.append(("quotes", lambda s: s["quotes"]))
    rows += [(f"  {k}", lambda s, k=k: s["quote_kinds"].get(k, 0)) for k in ("direct", "indirect", "mixed")]
    cases = sorted({c for s in stats.values() for c in s["hard_cases"]})
    rows += [(f"  {c}", lambda s, c=c: s["hard_cases"].get(c, 0)) for c in cases]
    out = ["| | " + " | ".join(splits) + " | total |", "|---|" + "---:|" * (len(splits) + 1)]
    for name, get in rows:
        values = [get(stats[s]) for s in splits]
        out.append(f"| {name} | " + " | ".join(f"{v:,}" for v in values) + f" | {sum(values):,} |")
    return "\n".join(out) + "\n"
