"""The interchange format: one article per JSON line, gold data, predictions and API alike.

Offsets are character offsets into ``text``, end exclusive, so ``text[start:end]`` is
always the span. ``text`` and ``score`` fields are optional on input and always written
on output. Validation happens on load; every error names the file, line and field.
"""
from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Iterable, Iterator, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

LAYERS = ("entities", "quotes")
QUOTE_KINDS = ("direct", "indirect", "mixed")


class Span(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    text: Optional[str] = None
    score: Optional[float] = None  # predictions only: P(this span is exactly right), calibration.py

    @model_validator(mode="after")
    def _ordered(self):
        if self.end <= self.start:
            raise ValueError(f"end ({self.end}) must be greater than start ({self.start})")
        return self


class Entity(Span):
    label: str


class Quote(Span):
    kind: Literal["direct", "indirect", "mixed"]
    cue: Optional[Span] = None
    speaker: Optional[Span] = None
    speaker_entity: Optional[Span] = None
    speaker_score: Optional[float] = None  # predictions only: P(the speaker is right)


class Document(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    text: str
    layers: list[Literal["entities", "quotes"]] = Field(default_factory=lambda: list(LAYERS))
    entities: list[Entity] = Field(default_factory=list)
    quotes: list[Quote] = Field(default_factory=list)
    meta: dict = Field(default_factory=dict)

    @model_validator(mode="after")
    def _spans_index_text(self):
        """Every span lies inside ``text``; a given span text must equal ``text[start:end]``."""
        for field, span in self.spans():
            if span.end > len(self.text):
                raise ValueError(f"{field}: end {span.end} is past the end of text ({len(self.text)} chars)")
            actual = self.text[span.start:span.end]
            if span.text is None:
                span.text = actual
            elif span.text != actual:
                raise ValueError(f"{field}.text {span.text!r} != text[{span.start}:{span.end}] {actual!r}")
        return self

    def spans(self) -> Iterator[tuple[str, Span]]:
        """Every span with its field path, e.g. ``quotes[3].speaker``."""
        for i, e in enumerate(self.entities):
            yield f"entities[{i}]", e
        for i, q in enumerate(self.quotes):
            yield f"quotes[{i}]", q
            for part in ("cue", "speaker", "speaker_entity"):
                sub = getattr(q, part)
                if sub is not None:
                    yield f"quotes[{i}].{part}", sub

    def to_json(self) -> str:
        return json.dumps(self.model_dump(exclude_none=False, exclude_defaults=False), ensure_ascii=False)


class FormatError(ValueError):
    """A record that does not follow the format, located by file, line and field."""

    def __init__(self, path: str, line: int, field: str, message: str):
        self.path, self.line, self.field, self.message = path, line, field, message
        super().__init__(f"{path}:{line}: {field}: {message}")


def _errors_of(exc: ValidationError) -> list[tuple[str, str]]:
    out = []
    for err in exc.errors():
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".")
        msg = err["msg"].removeprefix("Value error, ")
        if not loc:  # a document-level check: its message starts with the field it blames
            field, _, rest = msg.partition(": ")
            loc, msg = (field, rest) if rest and " " not in field else ("document", msg)
        out.append((loc, msg))
    return out


def parse_line(line: str, path: str = "<string>", lineno: int = 1, unknown_keys: str = "error") -> Document:
    """One JSONL record as a Document. ``unknown_keys="meta"`` keeps top-level keys the
    format does not know (``url``, ``published``) under ``meta`` instead of rejecting them."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise FormatError(path, lineno, "json", f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(record, dict):
        raise FormatError(path, lineno, "document", "a line must hold one JSON object")
    if unknown_keys == "meta":
        extra = {k: record.pop(k) for k in list(record) if k not in Document.model_fields}
        if extra and isinstance(record.get("meta", {}), dict):  # a meta that is no object fails validation below
            record["meta"] = {**extra, **record.get("meta", {})}
    try:
        return Document.model_validate(record)
    except ValidationError as exc:
        field, msg = _errors_of(exc)[0]
        raise FormatError(path, lineno, field, msg) from None


def iter_jsonl(path: str | Path, errors: str = "raise", report=None) -> Iterator[Document]:
    """Documents of a JSONL file.

    ``errors="raise"`` stops at the first bad record; ``errors="skip"`` reports each bad
    record through ``report`` (default: stderr) and goes on with the rest.
    """
    import sys

    def skip(exc):
        (report or (lambda e: print(f"skipped: {e}", file=sys.stderr)))(exc)

    for _, doc in numbered_jsonl(path, None if errors == "raise" else skip):
        yield doc


def numbered_jsonl(path: str | Path, report=None) -> Iterator[tuple[int, Document]]:
    """(line, Document) for each record of a JSONL file (``.gz`` too); a bad record goes to
    ``report`` when given, else its FormatError is raised."""
    path = str(path)
    opener = gzip.open if path.lower().endswith(".gz") else open
    with opener(path, "rb") as fh:  # decoded line by line: one bad byte costs one record
        for lineno, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                yield lineno, parse_line(_utf8(raw, path, lineno), path, lineno)
            except FormatError as exc:
                if report is None:
                    raise
                report(exc)


def _utf8(raw: bytes, path: str, lineno: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FormatError(path, lineno, "bytes", f"not UTF-8: byte 0x{raw[exc.start]:02x} at byte {exc.start} of the line") \
            from None


def read_jsonl(path: str | Path, errors: str = "raise") -> list[Document]:
    return list(iter_jsonl(path, errors=errors))


def write_jsonl(docs: Iterable[Document], path: str | Path) -> int:
    """Write atomically: a reader never sees half a file."""
    from .files import atomic_write

    n = 0
    with atomic_write(path) as fh:
        for doc in docs:
            fh.write(doc.to_json() + "\n")
            n += 1
    return n
