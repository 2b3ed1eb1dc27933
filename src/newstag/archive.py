"""The quote archive: documents (predicted or gold) as two flat Parquet tables, one row
per quote and one per entity, and the questions ``newstag quotes`` answers from them.

Offsets in both tables index the article's text, so ``text[start:end]`` is the row's
``*_text``. Each quote carries the name its speaker resolves to and a ``speaker_key``
that merges the ways one article names one person ("Stoltenberg", "Jens Stoltenberg",
"the NATO chief") into one; across articles only names that are the same once
normalised merge. Every row says what made it (the model's weights hash, the newstag
version, the table schema version). Tables are written beside their destination and
renamed into place, so a crash never leaves half a table. Needs pyarrow (the
``archive`` extra).
"""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional

from .document import Document
from .files import atomic_write
from .pretty import name_index, speaker_mention

SCHEMA_VERSION = 1  # raised whenever a column is renamed, removed or changes meaning
QUOTES_FILE = "quotes.parquet"
ENTITIES_FILE = "entities.parquet"
ROWS_PER_GROUP = 50_000  # rows held in memory before they go to the file
POSSESSIVE = re.compile(r"['’]s$")


class ArchiveError(ValueError):
    """A table or model that cannot be used (missing, not a newstag table): a set-up error."""


def _pyarrow():
    """pyarrow and its Parquet module, or an ArchiveError saying how to install them."""
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise ArchiveError("the quote archive needs pyarrow: pip install 'newstag[archive]'") from None
    return pyarrow, pyarrow.parquet


# ---- names: what a speaker resolves to, and which names are one speaker ----

def name_key(name: str) -> str:
    """The form under which names merge across articles: NFKC, case-folded, whitespace
    collapsed, a possessive 's removed ("JENS  Stoltenberg's" → "jens stoltenberg")."""
    key = " ".join(unicodedata.normalize("NFKC", name).casefold().split())
    return POSSESSIVE.sub("", key)


@dataclass(frozen=True)
class Name:
    text: str
    label: Optional[str]  # the entity label of the mention; None when the name is no entity mention


class ArticleNames:
    """The names of one article, indexed so that a long article (thousands of quotes and
    mentions) costs time in proportion to its length, not to quotes times mentions."""

    def __init__(self, doc: Document):
        self.labels = {(e.start, e.end): e.label for e in doc.entities}
        self.index = name_index(doc)
        self.persons: dict[str, tuple[str, frozenset]] = {}  # key → (first spelling, words): what names merge into
        self.with_word: dict[str, list[str]] = {}  # word → keys of the persons whose name holds it, in text order
        for e in doc.entities:
            if e.label == "PER":
                self.add_person(e.text)
        self.merged: dict[str, str] = {}

    def add_person(self, text: str) -> None:
        key = name_key(text)
        if key and key not in self.persons:
            self.persons[key] = (text, frozenset(key.split()))
            for word in self.persons[key][1]:
                self.with_word.setdefault(word, []).append(key)

def speaker_name(quote, names: ArticleNames) -> Optional[Name]:
    """The name a quote's speaker resolves to (``pretty.speaker_mention``, the one rule
    for it), with its entity label; None for no speaker or a phrase that names nobody."""
    mention = speaker_mention(quote, names.index)
    return Name(mention.text, names.labels.get((mention.start, mention.end))) if mention is not None else None


def could_be_a_person(name: Name) -> bool:
    return name.label in ("PER", None)


def merged_name(name: Name, names: ArticleNames) -> str:
    """The longest person name of the article that holds every word of ``name``
    ("Stoltenberg", "Lértora Quiroga" → "Jens Stoltenberg", "Azucena Lértora Quiroga").

    Only a name that may be a person's merges ("Green" the party is not "Ana Green"), and
    never into a name that another person could carry: "Clinton" beside "Bill Clinton"
    and "Hillary Clinton" stays "Clinton", and "Bill Clinton" never becomes "Hillary
    Clinton"."""
    if not could_be_a_person(name):
        return name.text
    key = name_key(name.text)
    if key not in names.merged:
        names.merged[key] = _merge_target(key, names)
    return names.merged[key] or name.text


def _merge_target(key: str, names: ArticleNames) -> Optional[str]:
    """The spelling of the one longest person name holding the words of ``key``; None
    when there is none, it is ``key`` itself, or two people could carry ``key``."""
    words = frozenset(key.split())
    if not words:
        return None
    some_word = next(iter(words))
    holders = [(k, names.persons[k][1]) for k in names.with_word.get(some_word, []) if words <= names.persons[k][1]]
    if not holders:
        return None
    longest, longest_words = max(holders, key=lambda h: len(h[0]))  # the first of equals, in text order
    if longest == key or not all(w <= longest_words for _, w in holders):
        return None
    return names.persons[longest][0]


def speakers_of(doc: Document) -> list[tuple[Optional[Name], Optional[str]]]:
    """For each quote of ``doc``: the name its speaker resolves to, and the display name
    of the speaker that name merges into within the article (None, None when unnamed)."""
    names = ArticleNames(doc)
    resolved = [speaker_name(q, names) for q in doc.quotes]
    for name in resolved:  # a resolved name no mention carries is a full name too
        if name is not None and could_be_a_person(name):
            names.add_person(name.text)
    return [(n, merged_name(n, names) if n is not None else None) for n in resolved]


# ---- rows and tables ----

@dataclass(frozen=True)
class Provenance:
    model_sha256: Optional[str] = None  # of the weights that made the predictions; None for gold or unknown
    newstag_version: str = ""

    def columns(self) -> dict:
        return {"model_sha256": self.model_sha256, "newstag_version": self.newstag_version,
                "schema_version": SCHEMA_VERSION}


def _span_columns(prefix: str, span, score_column: Optional[str] = None) -> dict:
    columns = {f"{prefix}_start": None, f"{prefix}_end": None, f"{prefix}_text": None} if span is None else \
        {f"{prefix}_start": span.start, f"{prefix}_end": span.end, f"{prefix}_text": span.text}
    if score_column:  # P(this span is exactly right): calibration.py
        columns[score_column] = None if span is None else span.score
    return columns


def quote_rows(doc: Document, provenance: Provenance) -> list[dict]:
    rows = []
    for quote, (name, display) in zip(doc.quotes, speakers_of(doc)):
        rows.append({"article_id": doc.id, **_span_columns("quote", quote), "kind": quote.kind,
                     "score": quote.score, **_span_columns("cue", quote.cue, "cue_score"),
                     **_span_columns("speaker", quote.speaker, "speaker_span_score"),
                     "speaker_score": quote.speaker_score,  # P(the speaker is right): calibration.py
                     "speaker_name": name.text if name else None,
                     "speaker_key": (name_key(display) or None) if display else None,
                     "speaker_display_name": display,
                     **provenance.columns()})
    return rows


def entity_rows(doc: Document, provenance: Provenance) -> list[dict]:
    return [{"article_id": doc.id, "start": e.start, "end": e.end, "text": e.text, "label": e.label,
             "score": e.score, **provenance.columns()} for e in doc.entities]


def _provenance_fields(pa) -> list:
    return [("model_sha256", pa.string()), ("newstag_version", pa.string()), ("schema_version", pa.int32())]


def quotes_schema():
    pa, _ = _pyarrow()
    span = lambda prefix: [(f"{prefix}_start", pa.int64()), (f"{prefix}_end", pa.int64()),  # noqa: E731
                           (f"{prefix}_text", pa.string())]
    return pa.schema([("article_id", pa.string()), *span("quote"), ("kind", pa.string()), ("score", pa.float64()),
                      *span("cue"), ("cue_score", pa.float64()), *span("speaker"), ("speaker_span_score", pa.float64()),
                      ("speaker_score", pa.float64()), ("speaker_name", pa.string()), ("speaker_key", pa.string()),
                      ("speaker_display_name", pa.string()), *_provenance_fields(pa)])


def entities_schema():
    pa, _ = _pyarrow()
    return pa.schema([("article_id", pa.string()), ("start", pa.int64()), ("end", pa.int64()),
                      ("text", pa.string()), ("label", pa.string()), ("score", pa.float64()),
                      *_provenance_fields(pa)])


class _ParquetOut:
    """One table written row group by row group to a file that is renamed into place
    only when every group is in (``files.atomic_write``)."""

    def __init__(self, stack, path: Path, schema):
        pa, pq = _pyarrow()
        self.pa, self.schema, self.rows, self.count = pa, schema, [], 0
        self.writer = pq.ParquetWriter(stack.enter_context(atomic_write(path, "wb")), schema)
        stack.callback(self.writer.close)  # closed before its file is renamed: callbacks run last-in first

    def add(self, rows: list[dict]) -> None:
        self.rows += rows
        if len(self.rows) >= ROWS_PER_GROUP:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            self.writer.write_table(self.pa.Table.from_pylist(self.rows, schema=self.schema))
            self.count += len(self.rows)
            self.rows = []


def write_tables(docs: Iterable[Document], out: Path, model_sha256: Optional[str] = None) -> dict:
    """``out/quotes.parquet`` and ``out/entities.parquet`` from ``docs``; the number of
    documents, quotes and entities written. A table replaces its old copy only whole."""
    from contextlib import ExitStack

    from . import __version__

    out = Path(out)
    provenance = Provenance(model_sha256, __version__)
    n_docs = 0
    with ExitStack() as stack:
        quotes = _ParquetOut(stack, out / QUOTES_FILE, quotes_schema())
        entities = _ParquetOut(stack, out / ENTITIES_FILE, entities_schema())
        for doc in docs:
            quotes.add(quote_rows(doc, provenance))
            entities.add(entity_rows(doc, provenance))
            n_docs += 1
        quotes.flush()
        entities.flush()
    return {"documents": n_docs, "quotes": quotes.count, "entities": entities.count}


def check_out_dir(out: Path) -> None:
    """Refuse, before any work, an --out that is a file or could not be created or written."""
    import os

    if out.exists() and not out.is_dir():
        raise ArchiveError(f"--out {out}: is a file; give a folder for {QUOTES_FILE} and {ENTITIES_FILE}")
    existing = next(p for p in (out.absolute(), *out.absolute().parents) if p.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise ArchiveError(f"--out {out}: {existing} is not a writable folder")


def model_sha256(directory: Path) -> str:
    """The SHA-256 of a model directory's weights, as its manifest lists it."""
    from .modeldir import MANIFEST, WEIGHTS, ModelDirError, read_manifest

    directory = Path(directory)
    if not directory.is_dir():
        raise ModelDirError(f"--model {directory}: no such model directory")
    if not (directory / MANIFEST).is_file():
        raise ModelDirError(f"--model {directory}: no {MANIFEST} (not a finished newstag model directory)")
    digest = read_manifest(directory)["files"].get(WEIGHTS)
    if not isinstance(digest, str):
        raise ModelDirError(f"{directory / MANIFEST}: lists no {WEIGHTS}")
    return digest


def tables_from_inputs(names: list[str], out: Path, model: Optional[Path], report: Callable[[str], None]) -> int:
    """``newstag tables``: every input checked, then read record by record; a bad record
    is reported with file, line and reason and skipped. The number of records rejected.
    Set-up errors raise InputError, ModelDirError or ArchiveError before anything is written."""
    from .reading import check_inputs

    _pyarrow()
    sources = check_inputs(names, "jsonl")
    check_out_dir(out)
    digest = model_sha256(model) if model is not None else None
    rejected = []
    try:
        counts = write_tables(_documents(sources, rejected, report), out, digest)
    except OSError as exc:  # a disk that fills up mid-write: the old tables stay as they were
        raise ArchiveError(f"--out {out}: writing the tables failed ({exc.strerror or exc}); nothing was replaced") \
            from None
    report(f"{counts['documents']} documents, {counts['quotes']} quotes, {counts['entities']} entities "
           f"written to {out}; {len(rejected)} records rejected")
    return len(rejected)


def _documents(sources, rejected: list, report) -> Iterator[Document]:
    from .reading import read_records

    for record in read_records(sources):
        if record.doc is None:
            rejected.append(record)
            report(f"rejected: {record.source}:{record.line}: {record.error}")
        else:
            yield record.doc


# ---- reading the quotes table back ----

QUERY_COLUMNS = ("article_id", "quote_start", "quote_text", "speaker_key", "speaker_display_name")


def read_quotes(path: Path):
    """The quotes table of a folder written by ``newstag tables``, or of a Parquet file."""
    pa, pq = _pyarrow()
    path = Path(path)
    file = path / QUOTES_FILE if path.is_dir() else path
    if not file.is_file():
        raise ArchiveError(f"{file}: no such table (write one with `newstag tables`)")
    try:
        schema = pq.read_schema(file)
    except (pa.ArrowInvalid, OSError) as exc:
        raise ArchiveError(f"{file}: not a Parquet file ({exc})") from None
    missing = [c for c in QUERY_COLUMNS if c not in schema.names]
    if missing:
        raise ArchiveError(f"{file}: not a newstag quotes table (no column {', '.join(missing)})")
    return pq.read_table(file, columns=list(QUERY_COLUMNS))


@dataclass
class Speaker:
    key: str
    name: str  # the display name most of its quotes carry
    quotes: int
    articles: int


def speakers(table) -> list[Speaker]:
    """Every named speaker of a quotes table, the most quoted first (ties by name)."""
    counts = table.group_by("speaker_key").aggregate([("article_id", "count"), ("article_id", "count_distinct")])
    names = _display_names(table)
    found = [Speaker(key, names[key], n, articles) for key, n, articles in
             zip(*(counts.column(c).to_pylist() for c in ("speaker_key", "article_id_count",
                                                           "article_id_count_distinct"))) if key is not None]
    return sorted(found, key=lambda s: (-s.quotes, s.key))


def _display_names(table) -> dict[str, str]:
    seen = Counter(zip(table.column("speaker_key").to_pylist(), table.column("speaker_display_name").to_pylist()))
    names: dict[str, str] = {}
    for (key, name), _ in sorted(seen.items(), key=lambda item: (-item[1], item[0][1] or "")):
        names.setdefault(key, name)
    return names


def unnamed_quotes(table) -> int:
    return table.column("speaker_key").null_count


def matching_speakers(table, name: str) -> list[Speaker]:
    """The speakers ``name`` means: the one whose key it is, else every speaker whose
    name holds all its words ("Stoltenberg" finds "Jens Stoltenberg")."""
    key = name_key(name)
    every = speakers(table)
    exact = [s for s in every if s.key == key]
    words = set(key.split())
    return exact or [s for s in every if words and words <= set(s.key.split())]


def quotes_of(table, key: str) -> list[tuple[str, str]]:
    """(article id, quote text) of every quote by the speaker ``key``, by article and position."""
    import pyarrow.compute as pc

    rows = table.filter(pc.equal(table.column("speaker_key"), key)).sort_by([("article_id", "ascending"),
                                                                            ("quote_start", "ascending")])
    return list(zip(rows.column("article_id").to_pylist(), rows.column("quote_text").to_pylist()))


def top_speakers_report(table, top: int) -> str:
    """The ``newstag quotes`` listing: quotes, articles and name of the most quoted speakers."""
    lines = [f"{'quotes':>6}  {'articles':>8}  speaker"]
    lines += [f"{s.quotes:>6}  {s.articles:>8}  {s.name}" for s in speakers(table)[:top]]
    unnamed = unnamed_quotes(table)
    if unnamed:
        lines.append(f"({unnamed} quotes without a named speaker)")
    return "\n".join(lines)


def speaker_report(table, name: str) -> Optional[str]:
    """Each speaker ``name`` means, with their quotes; None when it means none."""
    found = matching_speakers(table, name)
    if not found:
        return None
    blocks = []
    for s in found:
        lines = [f"{s.name}: {_count(s.quotes, 'quote')} in {_count(s.articles, 'article')}"]
        lines += [f"  {article}  {' '.join(text.split())}" for article, text in quotes_of(table, s.key)]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")
