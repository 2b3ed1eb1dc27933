"""Readers that turn the formats users already have into Documents, and one writer.

newstag works on one interchange format (``document.Document``). People arrive with
CoNLL column files, brat standoff (PolNeAR), Label Studio exports or Hugging Face
datasets; each reader here converts one of them, checks offsets as it goes, and fails
with a ``FormatError`` that names the file, the line and the field, so that a bad
record can be found and fixed rather than silently skewing training or evaluation.

``load_corpus(format, path, **options)`` picks the reader by name.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

from .document import LAYERS, QUOTE_KINDS, Document, Entity, FormatError, Quote, Span, read_jsonl
from .quotemarks import infer_quote_kind

DOCUMENT_SENTENCES = 100  # a CoNLL file without -DOCSTART- is cut into documents this long


def _map_label(label: str, label_map: Optional[dict]) -> Optional[str]:
    """Rename a label; a label mapped to None is dropped (returns None)."""
    if label_map and label in label_map:
        return label_map[label]
    return label


# --------------------------------------------------------------------------------------
# Token-tagged input: CoNLL files and Hugging Face datasets share one path to a Document.


class _TagError(ValueError):
    def __init__(self, index: int, message: str):
        self.index = index
        super().__init__(message)


def _tag_spans(tags: list[str]) -> list[tuple[str, int, int]]:
    """(label, first token, end token exclusive) for each entity in a tag sequence.

    One rule reads IOB1, IOB2 and IOBES alike: an entity starts at ``B-``/``S-``, or at
    an ``I-``/``E-`` that does not continue an entity of the same type. IOB1 puts ``I-``
    at the start of an entity and ``B-`` only between two adjacent same-type entities,
    so both schemes give the same spans without having to be told which one a file uses.
    """
    spans: list[list] = []
    current: Optional[list] = None
    for i, tag in enumerate(tags):
        if tag == "O":
            current = None
            continue
        prefix, dash, label = tag.partition("-")
        if not dash or not label or prefix not in ("B", "I", "E", "S"):
            raise _TagError(i, f"tag {tag!r} is neither O nor B-, I-, E-, S- followed by a label")
        if current is not None and current[0] == label and prefix in ("I", "E"):
            current[2] = i + 1
        else:
            current = [label, i, i + 1]
            spans.append(current)
        if prefix in ("E", "S"):
            current = None
    return [tuple(s) for s in spans]


def tokens_to_document(
    doc_id: str,
    sentences: list[list[str]],
    sentence_tags: list[list[str]],
    label_map: Optional[dict] = None,
    *,
    path: Optional[str] = None,
    lines: Optional[list[list[int]]] = None,
) -> Document:
    """A Document from tokenised sentences and their entity tags.

    Tokens are joined by one space and sentences by ``"\\n"``, so the text is readable
    and every entity offset is exact. ``meta["sentences"]`` keeps each sentence's
    ``[start, end]`` so sentence-level models can cut the text back up. ``path`` and
    ``lines`` (the line, or row, of every token) only serve to locate errors.
    """
    where = path or doc_id

    def line_of(s: int, k: int) -> int:
        if lines is not None and k < len(lines[s]):
            return lines[s][k]
        return s + 1

    if len(sentences) != len(sentence_tags):
        raise FormatError(where, 0, "tags", f"{len(sentence_tags)} tag sequences for {len(sentences)} sentences")
    pieces: list[str] = []
    bounds: list[list[int]] = []
    entities: list[Entity] = []
    pos = 0
    for s, (tokens, tags) in enumerate(zip(sentences, sentence_tags)):
        if len(tokens) != len(tags):
            raise FormatError(where, line_of(s, 0), "tags", f"{len(tags)} tags for {len(tokens)} tokens")
        if s:
            pos += 1  # the "\n" between sentences
        starts = []
        for k, token in enumerate(tokens):
            if not token:
                raise FormatError(where, line_of(s, k), f"tokens[{k}]", "empty token")
            starts.append(pos)
            pos += len(token) + 1
        sentence = " ".join(tokens)
        pos = (starts[0] if starts else pos) + len(sentence)
        bounds.append([pos - len(sentence), pos])
        pieces.append(sentence)
        try:
            spans = _tag_spans(list(tags))
        except _TagError as exc:
            raise FormatError(where, line_of(s, exc.index), f"tags[{exc.index}]", str(exc)) from None
        for label, i, j in spans:
            label = _map_label(label, label_map)
            if label is not None:
                entities.append(Entity(start=starts[i], end=starts[j - 1] + len(tokens[j - 1]), label=label))
    return Document(id=doc_id, text="\n".join(pieces), layers=["entities"], entities=entities,
                    meta={"sentences": bounds})


def _columns(line: str) -> list[str]:
    """CoNLL columns: split on spaces and tabs only, so a token may hold other whitespace."""
    return [c for c in re.split(r"[ \t]+", line.strip(" \t\r\n")) if c]


def read_conll(path: str | Path, tag_column: int = -1, label_map: Optional[dict] = None) -> list[Document]:
    """Documents of a CoNLL-2003-style column file (token first, NER tag in ``tag_column``).

    ``-DOCSTART-`` lines separate documents and blank lines separate sentences. A file
    without ``-DOCSTART-`` has no document boundaries to keep, so it is cut every
    ``DOCUMENT_SENTENCES`` sentences: documents stay a size a model can take whole.
    Document ids are ``<file name>#<n>``, counting from 1.
    """
    path = Path(path)
    documents: list[list[list[tuple[int, str, str]]]] = []  # document > sentence > (line, token, tag)
    document: list[list[tuple[int, str, str]]] = []
    sentence: list[tuple[int, str, str]] = []
    saw_docstart = False
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            cols = _columns(line)
            if cols and cols[0] != "-DOCSTART-":
                if len(cols) < 2:
                    raise FormatError(str(path), lineno, "columns", "a token line needs a token and a tag")
                try:
                    tag = cols[tag_column]
                except IndexError:
                    raise FormatError(str(path), lineno, f"column {tag_column}",
                                      f"the line has only {len(cols)} columns") from None
                sentence.append((lineno, cols[0], tag))
                continue
            if sentence:
                document.append(sentence)
                sentence = []
            if cols:  # -DOCSTART-
                saw_docstart = True
                if document:
                    documents.append(document)
                document = []
    if sentence:
        document.append(sentence)
    if document:
        documents.append(document)
    if not saw_docstart:
        whole = [s for d in documents for s in d]
        documents = [whole[i:i + DOCUMENT_SENTENCES] for i in range(0, len(whole), DOCUMENT_SENTENCES)]
    return [
        tokens_to_document(
            f"{path.name}#{n}",
            [[tok for _, tok, _ in s] for s in doc],
            [[tag for _, _, tag in s] for s in doc],
            label_map,
            path=str(path),
            lines=[[ln for ln, _, _ in s] for s in doc],
        )
        for n, doc in enumerate(documents, 1)
    ]


def _class_label_names(feature) -> Optional[list[str]]:
    """Tag names of a sequence-of-ClassLabel feature (``Sequence``, ``List`` or ``[ClassLabel]``)."""
    import datasets

    inner = feature[0] if isinstance(feature, list) and feature else getattr(feature, "feature", None)
    return list(inner.names) if isinstance(inner, datasets.ClassLabel) else None


def read_hf_dataset(
    name_or_path: str | Path,
    split: str = "train",
    tokens_column: str = "tokens",
    tags_column: str = "ner_tags",
    label_names: Optional[list[str]] = None,
    label_map: Optional[dict] = None,
) -> list[Document]:
    """One Document per row of a token-classification dataset.

    A path that exists is read with ``datasets.load_from_disk`` (a saved ``Dataset``, or
    a ``DatasetDict`` from which ``split`` is taken); anything else is a hub name for
    ``datasets.load_dataset``. Tag ids become names through the column's ``ClassLabel``
    feature, or ``label_names`` where the dataset has none (or names them wrongly); string
    tags are used as they are. Errors give the row index as the line. Ids are
    ``<name>#<row>`` (``<name>:<split>#<row>`` when a split was picked).
    """
    import datasets

    where = str(name_or_path)
    base = Path(where).name or where
    if Path(where).exists():
        data = datasets.load_from_disk(where)
        if isinstance(data, datasets.DatasetDict):
            if split not in data:
                raise FormatError(where, 0, "split", f"no split {split!r}; the dataset has {sorted(data)}")
            data, base = data[split], f"{base}:{split}"
    else:
        data, base = datasets.load_dataset(where, split=split), f"{base}:{split}"
    for column in (tokens_column, tags_column):
        if column not in data.column_names:
            raise FormatError(where, 0, column, f"no such column; the dataset has {data.column_names}")
    names = list(label_names) if label_names is not None else _class_label_names(data.features[tags_column])
    docs = []
    for row, record in enumerate(data):
        tokens, tags = list(record[tokens_column]), list(record[tags_column])
        if any(not isinstance(t, str) for t in tags):
            if names is None:
                raise FormatError(where, row, tags_column,
                                  "tag ids need names: the column is not a ClassLabel sequence; pass label_names")
            for k, t in enumerate(tags):
                if not isinstance(t, int) or not 0 <= t < len(names):
                    raise FormatError(where, row, f"{tags_column}[{k}]", f"tag id {t!r} has no name ({len(names)} names)")
            tags = [names[t] for t in tags]
        docs.append(tokens_to_document(f"{base}#{row}", [tokens], [tags], label_map,
                                       path=where, lines=[[row] * len(tokens)]))
    return docs


# --------------------------------------------------------------------------------------
# brat standoff (PolNeAR)

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


# --------------------------------------------------------------------------------------
# Label Studio JSON export

QUOTE_LABEL, CUE_LABEL, SPEAKER_LABEL = "QUOTE", "CUE", "SPEAKER"
# A speaker's referent that is not itself a mention of the entity layer.
REFERENT_LABEL = "REFERENT"
REFERS_TO = "refers_to"
_PART_LABELS = (QUOTE_LABEL, CUE_LABEL, SPEAKER_LABEL, REFERENT_LABEL)


def _json_array_items(raw: str, path: str) -> list[tuple[int, object]]:
    """(line, item) for each item of a top-level JSON array, so errors can name a line."""
    decoder = json.JSONDecoder()
    items: list[tuple[int, object]] = []
    i = len(raw) - len(raw.lstrip())
    if raw[i:i + 1] != "[":
        raise FormatError(path, raw.count("\n", 0, i) + 1, "tasks", "expected a JSON list of tasks (Label Studio JSON export)")
    i += 1
    while True:
        while i < len(raw) and raw[i] in " \t\r\n,":
            i += 1
        if raw[i:i + 1] == "]" or i >= len(raw):
            return items
        line = raw.count("\n", 0, i) + 1
        try:
            item, i = decoder.raw_decode(raw, i)
        except json.JSONDecodeError as exc:
            raise FormatError(path, exc.lineno, "json", f"not valid JSON ({exc.msg} at column {exc.colno})") from None
        items.append((line, item))


def _from_utf16(text: str, units: int) -> int:
    """Character index of a UTF-16 code-unit offset (older Label Studio counted those)."""
    count = 0
    for index, ch in enumerate(text):
        if count >= units:
            return index
        count += 2 if ord(ch) > 0xFFFF else 1
    return len(text)


def _ls_offsets(text: str, value: dict, path: str, line: int, field: str) -> tuple[int, int]:
    """Character offsets of a region, checked against its ``text`` where the export has one.

    Label Studio before ~1.6 counted UTF-16 code units, so after an emoji its offsets are
    off; if the code-point reading disagrees with the region text and the UTF-16 reading
    agrees, the latter is used.
    """
    try:
        start, end = int(value["start"]), int(value["end"])
    except (KeyError, TypeError, ValueError):
        raise FormatError(path, line, field, "a labels region needs integer start and end") from None
    given = value.get("text")
    if given is None or text[start:end] == given:
        if not 0 <= start < end <= len(text):
            raise FormatError(path, line, field, f"offsets {start}-{end} are empty or outside the text ({len(text)} chars)")
        return start, end
    s16, e16 = _from_utf16(text, start), _from_utf16(text, end)
    if text[s16:e16] == given:
        return s16, e16
    raise FormatError(path, line, field, f"text {given!r} != text[{start}:{end}] {text[start:end]!r}")


def _relation_slot(a: dict, b: dict) -> Optional[tuple[dict, str, dict]]:
    """(region that holds the link, slot, linked region) for a relation between two regions.

    Direction does not matter (annotators draw arrows both ways): the regions' labels say
    what the link means. A relation between two entity regions is not ours (None).
    """
    for x, y in ((a, b), (b, a)):
        if x["part"] == QUOTE_LABEL and y["part"] == CUE_LABEL:
            return x, "cue", y
        if x["part"] == QUOTE_LABEL and y["part"] == SPEAKER_LABEL:
            return x, "speaker", y
        if x["part"] == SPEAKER_LABEL and y["part"] in (None, REFERENT_LABEL):
            return x, "referent", y
    if a["part"] in (None, REFERENT_LABEL) and b["part"] in (None, REFERENT_LABEL):
        return None
    raise ValueError(f"cannot read a relation between {a['part']} and {b['part']}")


def _task_to_document(task, path: str, line: int, index: int, layers: Optional[list[str]]) -> Optional[Document]:
    at = f"tasks[{index}]"
    data = task.get("data") if isinstance(task, dict) else None
    text = data.get("text") if isinstance(data, dict) else None
    if not isinstance(text, str):
        raise FormatError(path, line, f"{at}.data.text", "every task needs its text in data.text")
    annotations = [(k, a) for k, a in enumerate(task.get("annotations") or []) if not a.get("was_cancelled")]
    if annotations:
        k, chosen = annotations[0]
        at = f"{at}.annotations[{k}]"
    elif task.get("predictions"):
        chosen, at = task["predictions"][0], f"{at}.predictions[0]"
    else:
        return None  # not annotated
    regions: dict[str, dict] = {}
    kinds: dict[str, str] = {}
    relations = []
    for k, result in enumerate(chosen.get("result") or []):
        field, value = f"{at}.result[{k}]", result.get("value") or {}
        if result.get("type") == "labels":
            start, end = _ls_offsets(text, value, path, line, f"{field}.value")
            labels = list(value.get("labels") or [])
            parts = [lab.upper() for lab in labels if lab.upper() in _PART_LABELS]
            if len(parts) > 1:
                raise FormatError(path, line, f"{field}.value.labels", f"one region cannot be {' and '.join(parts)}")
            regions[result.get("id")] = {
                "span": (start, end), "part": parts[0] if parts else None, "score": result.get("score"),
                "kind": next((lab.lower() for lab in labels if lab.lower() in QUOTE_KINDS), None),
                "labels": [lab for lab in labels if lab.upper() not in _PART_LABELS and lab.lower() not in QUOTE_KINDS],
                "cue": None, "speaker": None, "referent": None,
            }
        elif result.get("type") == "choices":  # a per-region choice, sharing the region's id
            kind = next((c.lower() for c in value.get("choices") or [] if c.lower() in QUOTE_KINDS), None)
            if kind:
                kinds[result.get("id")] = kind
        elif result.get("type") == "relation":
            relations.append((field, result))
    for field, rel in relations:
        ends = [regions.get(rel.get("from_id")), regions.get(rel.get("to_id"))]
        if None in ends:
            raise FormatError(path, line, field,
                              f"relation between unknown regions {rel.get('from_id')!r}, {rel.get('to_id')!r}")
        try:
            link = _relation_slot(*ends)
        except ValueError as exc:
            raise FormatError(path, line, field, str(exc)) from None
        if link is None:
            continue
        holder, slot, target = link
        if holder[slot] is not None and holder[slot] is not target:
            raise FormatError(path, line, field, f"a {holder['part']} region linked to two {slot}s")
        holder[slot] = target
    entities, quotes = [], []

    def span_of(region):
        return Span(start=region["span"][0], end=region["span"][1]) if region else None

    for rid, region in regions.items():
        start, end = region["span"]
        for label in region["labels"]:
            if region["part"] != REFERENT_LABEL:
                entities.append(Entity(start=start, end=end, label=label, score=region["score"]))
        if region["part"] == QUOTE_LABEL:
            speaker = region["speaker"]
            quotes.append(Quote(
                start=start, end=end, kind=kinds.get(rid) or region["kind"] or "indirect", score=region["score"],
                cue=span_of(region["cue"]), speaker=span_of(speaker),
                speaker_entity=span_of(speaker["referent"]) if speaker else None,
            ))
    doc_id = data.get("doc_id") or (str(task["id"]) if "id" in task else f"{Path(path).name}#{index + 1}")
    return Document(id=str(doc_id), text=text, layers=layers or data.get("layers") or list(LAYERS),
                    entities=entities, quotes=quotes, meta=data.get("meta") or {})


def read_label_studio(path: str | Path, layers: Optional[list[str]] = None) -> list[Document]:
    """Documents from a Label Studio JSON export (a list of tasks).

    Each task gives one Document from its first annotation that was not cancelled, else
    its first prediction (pre-annotations, such as ``write_label_studio`` makes); a task
    with neither was not annotated and is left out. Regions (``labels`` results) labelled
    QUOTE, CUE or SPEAKER make the quote layer; every other label is an entity label
    (PER, ORG, LOC, MISC). A QUOTE's kind is a second label (direct, indirect, mixed) or a
    per-region ``choices`` result, else indirect. Relations, in either direction, tie a
    QUOTE to its CUE and SPEAKER, and a SPEAKER to the entity (or REFERENT region) it
    refers to. The document id is ``data.doc_id``, else the task id. ``layers`` says what
    the project annotated; by default ``data.layers``, else both.
    """
    path = str(path)
    with open(path, encoding="utf-8") as fh:
        raw = fh.read()
    docs = []
    for index, (line, task) in enumerate(_json_array_items(raw, path)):
        doc = _task_to_document(task, path, line, index, layers)
        if doc is not None:
            docs.append(doc)
    return docs


def _document_to_task(doc: Document, model_version: str) -> dict:
    results: list[dict] = []
    linked: set[tuple[str, str]] = set()

    def region(rid: str, span: Span, labels: list[str], score: Optional[float] = None) -> str:
        result = {"id": rid, "from_name": "label", "to_name": "text", "type": "labels",
                  "value": {"start": span.start, "end": span.end, "text": doc.text[span.start:span.end], "labels": labels}}
        if score is not None:
            result["score"] = score
        results.append(result)
        return rid

    def relate(from_id: str, to_id: str, labels: list[str]) -> None:
        if (from_id, to_id) not in linked:
            linked.add((from_id, to_id))
            results.append({"type": "relation", "from_id": from_id, "to_id": to_id, "direction": "right", "labels": labels})

    entity_ids: dict[tuple[int, int], str] = {}
    for i, e in enumerate(doc.entities):
        entity_ids.setdefault((e.start, e.end), region(f"e{i}", e, [e.label], e.score))
    # A cue or speaker shared by the parts of a split quote is one region linked to each.
    parts: dict[tuple, str] = {}

    def part(label: str, span: Span, *extra) -> str:
        key = (label, span.start, span.end, *extra)
        if key not in parts:
            parts[key] = region(f"{label[0].lower()}{len(parts)}", span, [label])
        return parts[key]

    for i, q in enumerate(doc.quotes):
        qid = region(f"q{i}", q, [QUOTE_LABEL, q.kind], q.score)
        if q.cue:
            relate(qid, part(CUE_LABEL, q.cue), [])
        if q.speaker:
            referent = (q.speaker_entity.start, q.speaker_entity.end) if q.speaker_entity else None
            sid = part(SPEAKER_LABEL, q.speaker, referent)
            relate(qid, sid, [])
            if q.speaker_entity:
                target = entity_ids.get(referent) or part(REFERENT_LABEL, q.speaker_entity)
                relate(sid, target, [REFERS_TO])
    prediction = {"model_version": model_version, "result": results}
    scores = [s.score for _, s in doc.spans() if getattr(s, "score", None) is not None]
    if scores:
        prediction["score"] = min(scores)  # the least certain span decides what to review first
    return {"data": {"text": doc.text, "doc_id": doc.id, "layers": list(doc.layers), "meta": doc.meta},
            "predictions": [prediction]}


def write_label_studio(docs: Iterable[Document], path: str | Path, model_version: str = "newstag") -> int:
    """Write Documents as Label Studio tasks whose spans are predictions (pre-annotations).

    Annotators then correct the model instead of starting from nothing, and
    ``read_label_studio`` reads the file back to the same Documents. Region labels are
    those ``read_label_studio`` reads (from_name ``label``, to_name ``text``); a speaker
    whose referent is no entity mention links to a REFERENT region. Offsets are code
    points, as current Label Studio counts them. Returns the number of tasks written.
    """
    import os
    import tempfile

    path = Path(path)
    tasks = [_document_to_task(doc, model_version) for doc in docs]
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, delete=False, suffix=".tmp") as fh:
        json.dump(tasks, fh, ensure_ascii=False, indent=1)
        fh.write("\n")
    os.replace(fh.name, path)
    return len(tasks)


# --------------------------------------------------------------------------------------

def read_markup(path: str | Path) -> list[Document]:
    """The inline markup data/newswire is written in: one file, or every ``*.txt`` in a folder."""
    from .markup import compile_file

    path = Path(path)
    files = sorted(path.glob("*.txt")) if path.is_dir() else [path]
    return [doc for f in files for doc in compile_file(f)]


READERS = {
    "jsonl": read_jsonl,
    "markup": read_markup,
    "conll": read_conll,
    "brat": read_brat,
    "label-studio": read_label_studio,
    "hf": read_hf_dataset,
}


def load_corpus(format: str, path: str | Path, **options) -> list[Document]:
    """Documents from ``path`` read as ``format`` (a key of READERS), options passed on."""
    try:
        reader = READERS[format]
    except KeyError:
        raise ValueError(f"unknown format {format!r}; one of {', '.join(READERS)}") from None
    return reader(path, **options)
