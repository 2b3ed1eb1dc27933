"""What ``newstag predict`` reads: files and stdin, checked before any work starts, then
read record by record.

Every record either becomes a Document or is rejected with its file, line and reason;
nothing is merged, dropped or aborted silently. A text file is one article; a JSONL
file (``.jsonl``, ``.ndjson``, ``.json``, any of them ``.gz``, in any case) is one
article per line. Bytes that are not UTF-8, lone surrogates and records over the size
limit reject that record only. Ids of text files are their paths relative to the inputs'
common folder, so two ``x.txt`` in different folders stay two documents. Under a shard
K/N only the records at positions K, K+N, K+2N ... are read (one job of an array).
"""
from __future__ import annotations

import gzip
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

from .document import Document, FormatError, parse_line
from .text import lone_surrogate

INPUT_FORMATS = ("auto", "text", "jsonl")
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
MAX_CHARS = 10_000_000  # a record longer than this is rejected, not read into memory whole


class InputError(ValueError):
    """An input that cannot be used at all (missing, a folder, unreadable): a set-up error."""


@dataclass
class Record:
    position: int  # running index over all input records: what --resume counts
    source: str  # file path, or <stdin>
    line: int  # line in a JSONL input (1 for a text file)
    doc: Optional[Document] = None
    error: Optional[str] = None  # why the record was rejected

    def rejection(self) -> dict:
        return {"source": self.source, "line": self.line, "position": self.position, "error": self.error}


@dataclass
class Input:
    name: str  # as the user gave it
    path: Optional[Path]  # None for stdin
    kind: str  # "jsonl", "text", or "sniff" (stdin under --input-format auto)
    doc_id: str  # the id a text input's document gets


def is_jsonl_name(name: str) -> bool:
    name = name.lower().removesuffix(".gz")
    return name.endswith(JSONL_SUFFIXES)


def check_inputs(names: list[str], input_format: str) -> list[Input]:
    """Every input, checked before work starts; InputError names the first bad one."""
    if input_format not in INPUT_FORMATS:
        raise InputError(f"--input-format {input_format!r}: use one of {', '.join(INPUT_FORMATS)}")
    names = names or ["-"]
    files = [Path(n) for n in names if n != "-"]
    for name, path in zip([n for n in names if n != "-"], files):
        if not path.exists():
            raise InputError(f"{name}: no such file")
        if path.is_dir():
            raise InputError(f"{name}: is a folder; give the files in it (e.g. {name}/*.txt)")
        if not os.access(path, os.R_OK):
            raise InputError(f"{name}: not readable (permission denied)")
    root = Path(os.path.commonpath([str(p.resolve().parent) for p in files])) if files else None
    inputs = []
    for name in names:
        if name == "-":
            inputs.append(Input("-", None, "sniff" if input_format == "auto" else input_format, "stdin"))
            continue
        path = Path(name)
        kind = input_format if input_format != "auto" else "jsonl" if is_jsonl_name(name) else "text"
        inputs.append(Input(name, path, kind, str(path.resolve().relative_to(root))))
    return inputs


def read_records(inputs: list[Input], max_chars: int = MAX_CHARS, stdin=None, start: int = 0,
                 shard: tuple[int, int] = (0, 1)) -> Iterator[Record]:
    """Records of every input in order. Under ``shard`` (k, n) only those at positions i
    with i % n == k; the first ``start`` of these are skipped (resuming: a run's progress
    counts the records it was given, which under a shard are the shard's)."""
    k, n = shard
    position = given = 0
    for source in inputs:
        for record in _records_of(source, max_chars, stdin):
            record.position = position
            position += 1
            if record.position % n != k:
                continue
            given += 1
            if given > start:
                yield record


def parse_shard(text: str) -> tuple[int, int]:
    """"K/N" as (k, n), 0 <= k < n; else a ValueError saying what a shard looks like."""
    import re

    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text, re.ASCII)
    if not match:
        raise ValueError(f"--shard {text!r}: give K/N, two whole numbers with 0 <= K < N (e.g. 0/4)")
    k, n = int(match[1]), int(match[2])
    if not 0 <= k < n:
        raise ValueError(f"--shard {text}: K must be below N (the shards of {n} are 0/{n} to {n - 1}/{n})"
                         if n else f"--shard {text}: N must be at least 1")
    return k, n


def _records_of(source: Input, max_chars: int, stdin) -> Iterator[Record]:
    if source.path is None:
        yield from _stdin_records(source, max_chars, stdin or sys.stdin.buffer)
    elif source.kind == "jsonl":
        opener = gzip.open if source.name.lower().endswith(".gz") else open
        try:
            with opener(source.path, "rb") as fh:
                yield from _jsonl_records(fh, source.name, max_chars)
        except (OSError, EOFError) as exc:  # a damaged .gz: what was read stands, the rest is reported
            yield Record(0, source.name, 0, error=f"unreadable after the records above ({exc})")
    else:
        yield _text_record(source.path.read_bytes(), source.name, source.doc_id, max_chars)


def _stdin_records(source: Input, max_chars: int, stream) -> Iterator[Record]:
    """Stdin line by line, so a feed is tagged as it arrives. Under --input-format auto,
    stdin is JSONL when its first non-blank line opens a JSON object, else one article."""
    lines = iter(stream.readline, b"")
    head = []
    if source.kind == "sniff":
        for raw in lines:
            head.append(raw)
            if raw.strip():
                break
    jsonl = source.kind == "jsonl" or (bool(head) and head[-1].lstrip().startswith(b"{"))
    if jsonl:
        yield from _jsonl_records(_chain(head, lines), "<stdin>", max_chars)
    else:
        yield _text_record(b"".join(_chain(head, lines)), "<stdin>", "stdin", max_chars)


def _chain(first: list, rest) -> Iterator[bytes]:
    yield from first
    yield from rest


def _jsonl_records(lines, name: str, max_chars: int) -> Iterator[Record]:
    for lineno, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        record = Record(0, name, lineno)
        try:
            text = _decoded(raw, max_chars)
            record.doc = parse_line(text, name, lineno, unknown_keys="meta")
            _check_text(record.doc.text)
        except (FormatError, ValueError) as exc:
            record.doc, record.error = None, _reason(exc)
        yield record


def _text_record(raw: bytes, name: str, doc_id: str, max_chars: int) -> Record:
    record = Record(0, name, 1)
    try:
        record.doc = Document(id=doc_id, text=_decoded(raw, max_chars))
    except ValueError as exc:
        record.error = _reason(exc)
    return record


def _decoded(raw: bytes, max_chars: int) -> str:
    if len(raw) > 4 * max_chars:  # no UTF-8 character takes more than 4 bytes
        raise ValueError(f"longer than the limit of {max_chars:,} characters")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8: byte 0x{raw[exc.start]:02x} at byte offset {exc.start}") from None
    if len(text) > max_chars:
        raise ValueError(f"longer than the limit of {max_chars:,} characters ({len(text):,})")
    return text


def _check_text(text: str) -> None:
    where = lone_surrogate(text)
    if where:
        raise ValueError(f"text: a lone surrogate {where}")


def _reason(exc: Exception) -> str:
    return f"{exc.field}: {exc.message}" if isinstance(exc, FormatError) else str(exc)


def rejection_line(record: Record) -> str:
    return json.dumps(record.rejection(), ensure_ascii=False)


def batches(records: Iterator[Record], size: int, wait: float = 0.5) -> Iterator[list[Record]]:
    """Lists of up to ``size`` records, read ahead in a thread (reading overlaps tagging).
    When records stop coming for ``wait`` seconds (a feed on stdin), the records in hand
    go out as a smaller batch, so a feed gets its answers as it goes."""
    import queue
    import threading

    pending: queue.Queue = queue.Queue(maxsize=4 * size)
    end = object()

    def read_ahead():
        try:
            for record in records:
                pending.put(record)
        except BaseException as exc:  # handed to the consumer, which raises it there
            pending.put(exc)
        pending.put(end)

    threading.Thread(target=read_ahead, daemon=True).start()
    batch: list[Record] = []
    while True:
        try:
            item = pending.get(timeout=wait if batch else None)
        except queue.Empty:
            yield batch
            batch = []
            continue
        if item is end:
            break
        if isinstance(item, BaseException):
            raise item
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
