"""brat standoff, as PolNeAR ships it: quote attributions (Source, Cue, Content) as events."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..document import Document, FormatError, Quote, Span
from ..quotemarks import infer_quote_kind

DEFAULT_BRAT_ROLES = {"Source": "speaker", "Cue": "cue", "Content": "content", "Content2": "content"}
MAX_JOINED_SPAN = 100  # a discontinuous speaker or cue is joined up to this many characters
_ANN_RECORD = re.compile(r"[TERAMN*#]\d*\t")


@dataclass
class _TextBound:
    id: str
    type: str
    fragments: list[tuple[int, int]]
    line: int


@dataclass
class _Event:
    id: str
    args: list[tuple[str, str]]  # (role, target id); the trigger is not an argument
    line: int


def _parse_offsets(head: str, tid: str, text: str, path: str, lineno: int) -> tuple[str, list[tuple[int, int]]]:
    kind, _, offsets = head.partition(" ")
    fragments = []
    for fragment in offsets.split(";"):
        try:
            start, end = (int(x) for x in fragment.split())
        except ValueError:
            raise FormatError(path, lineno, f"{tid}.offsets",
                              f"expected 'start end[;start end...]', got {offsets!r}") from None
        if not 0 <= start < end <= len(text):
            raise FormatError(path, lineno, f"{tid}.offsets",
                              f"fragment {start} {end} is empty or outside the text ({len(text)} chars)")
        fragments.append((start, end))
    return kind, fragments


def _parse_ann(path: Path, text: str) -> tuple[dict[str, _TextBound], list[_Event]]:
    """Text-bound annotations and events of one .ann file, span texts checked against ``text``.

    brat writes a span's text after the offsets; a span that holds a line break spills
    onto the following lines (PolNeAR has some), so those lines are taken back into the
    span's text until it is as long as the text it should equal. Other record types
    (relations, attributes, notes) are skipped.
    """
    where = str(path)
    with open(path, encoding="utf-8") as fh:  # universal newlines: a CRLF .ann reads as LF
        lines = fh.read().split("\n")
    spans: dict[str, _TextBound] = {}
    events: list[_Event] = []
    i = 0
    while i < len(lines):
        line, lineno = lines[i], i + 1
        i += 1
        if not line.strip():
            continue
        if not _ANN_RECORD.match(line):
            raise FormatError(where, lineno, "record", f"not a brat annotation line: {line[:40]!r}")
        fields = line.split("\t", 2)
        rid = fields[0]
        if rid.startswith("T"):
            kind, fragments = _parse_offsets(fields[1], rid, text, where, lineno)
            if len(fields) > 2:
                expected = " ".join(text[a:b] for a, b in fragments).replace("\r\n", "\n").replace("\r", "\n")
                given = fields[2]
                while len(given) < len(expected) and i < len(lines) and not _ANN_RECORD.match(lines[i]):
                    given += "\n" + lines[i]
                    i += 1
                if given != expected:
                    raise FormatError(where, lineno, f"{rid}.text", f"{given!r} != the text at its offsets {expected!r}")
            spans[rid] = _TextBound(rid, kind, fragments, lineno)
        elif rid.startswith("E"):
            items = fields[1].split() if len(fields) > 1 else []
            args = []
            for item in items[1:]:  # items[0] is the trigger, Type:Tid
                role, colon, target = item.partition(":")
                if not colon or not target:
                    raise FormatError(where, lineno, rid, f"argument {item!r} is not Role:Id")
                args.append((role, target))
            events.append(_Event(rid, args, lineno))
    return spans, events


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    """Offsets of text[start:end] without surrounding whitespace (may become empty)."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _one_span(text: str, bound: Optional[_TextBound]) -> Optional[Span]:
    """One span for a speaker or cue: Span holds no gaps.

    A discontinuous one becomes the stretch from its first start to its last end when that
    stays within MAX_JOINED_SPAN characters (the gap is a parenthesis or an apposition),
    else its last fragment, the one nearest the cue in the usual "X, ..., said" order.
    """
    if bound is None:
        return None
    first, last = min(a for a, _ in bound.fragments), max(b for _, b in bound.fragments)
    start, end = (first, last) if last - first <= MAX_JOINED_SPAN else bound.fragments[-1]
    start, end = _strip(text, start, end)
    return Span(start=start, end=end) if end > start else None


def _brat_quotes(path: Path, text: str, spans: dict[str, _TextBound], events: list[_Event],
                 roles: dict) -> list[Quote]:
    """One quote per content fragment of each event, sharing the event's cue and speaker.

    A split content (discontinuous Content, or Content plus Content2) is one utterance in
    brat but several stretches of text; the interchange format keeps each stretch as its
    own quote record, as the inline markup does. A role is looked up by the event
    argument's name first (Content2 is a role, its span is typed Content), then by the
    span's type.
    """
    quotes = []
    for event in events:
        parts: dict[str, list[_TextBound]] = {"content": [], "cue": [], "speaker": []}
        for role, target in event.args:
            if target not in spans:
                raise FormatError(str(path), event.line, f"{event.id}.{role}",
                                  f"{target} is not a text-bound annotation of this file")
            part = roles.get(role) or roles.get(spans[target].type)
            if part in parts:
                parts[part].append(spans[target])
        cue = _one_span(text, parts["cue"][0] if parts["cue"] else None)
        speaker = _one_span(text, parts["speaker"][0] if parts["speaker"] else None)
        for bound in parts["content"]:
            for a, b in bound.fragments:
                start, end = _strip(text, a, b)
                if not any(ch.isalnum() for ch in text[start:end]):
                    continue  # a fragment of only punctuation or space is no content
                quotes.append(Quote(
                    start=start, end=end, kind=infer_quote_kind(text[start:end]),
                    cue=cue.model_copy() if cue else None,
                    speaker=speaker.model_copy() if speaker else None,
                ))
    quotes.sort(key=lambda q: (q.start, q.end))
    return quotes


def _brat_files(directory: Path) -> list[tuple[str, Path, list[Path]]]:
    """(document id, text file, its annotation files) in a PolNeAR-style or flat directory."""
    if (directory / "text").is_dir():
        text_dir, ann_dir = directory / "text", directory / "attributions"
    else:
        text_dir = ann_dir = directory
    texts = {p.stem: p for p in sorted(text_dir.glob("*.txt"))}
    if not texts:
        raise FormatError(str(text_dir), 0, "directory", "no .txt files: expected text/*.txt or X.txt beside X.ann")
    anns: dict[str, list[Path]] = {}
    for ann in sorted(ann_dir.glob("*.ann")):
        stem = ann.stem if ann.stem in texts else ann.stem.rpartition("_")[0]
        if stem not in texts:
            raise FormatError(str(ann), 0, "file", f"no text file {ann.stem}.txt or {stem}.txt in {text_dir}")
        anns.setdefault(stem, []).append(ann)
    return [(stem, texts[stem], anns[stem]) for stem in texts if stem in anns]


def read_brat(directory: str | Path, label_map: Optional[dict] = None) -> list[Document]:
    """Quote documents from brat standoff, laid out as PolNeAR ships it or flat.

    Layouts: ``directory/text/X.txt`` with ``directory/attributions/X_<annotator>.ann``
    (PolNeAR), or ``X.txt`` beside ``X.ann``. A text with no .ann is not annotated and is
    left out. Where several annotators did one article, ONE file is used, so gold data
    never counts an attribution twice: the one with the most events (attributions),
    ties broken by the smaller file name; every file is still parsed and checked.
    ``meta`` records the file used and the alternatives.

    Each event (``Attribution``, ``Attribution-no-source``) becomes one quote per content
    fragment, sharing its cue and speaker; ``label_map`` maps brat names to the roles
    speaker, cue and content (default ``DEFAULT_BRAT_ROLES``). Text is read with
    ``newline=""`` because brat offsets count the file's characters as they are.
    """
    directory = Path(directory)
    roles = DEFAULT_BRAT_ROLES if label_map is None else label_map
    docs = []
    for doc_id, text_path, ann_paths in _brat_files(directory):
        with open(text_path, encoding="utf-8", newline="") as fh:
            text = fh.read()
        candidates = [(ann, *_parse_ann(ann, text)) for ann in ann_paths]
        ann, spans, events = min(candidates, key=lambda c: (-len(c[2]), c[0].name))
        docs.append(Document(
            id=doc_id, text=text, layers=["quotes"], quotes=_brat_quotes(ann, text, spans, events, roles),
            meta={"annotation_file": ann.name, "annotation_files": [p.name for p in ann_paths]},
        ))
    return docs
