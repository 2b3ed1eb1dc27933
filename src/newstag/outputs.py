"""The formats ``newstag predict`` writes, in the one shape they share: a head, one piece
per document with a separator between pieces, and a tail.

JSONL and the "who said what" text are a piece per document and nothing around them.
The HTML page (render.py) and the Label Studio task list (a JSON array) are whole files,
opened by their head and closed by their tail; written piece by piece they still stream,
and ``--resume`` still works (writing.py writes the head when a run starts, the pieces as
batches finish, the tail only when the run completes). A spaCy DocBin is binary and
cannot be appended to: its run writes the interchange JSONL to ``OUT.partial``, resumable
as ever, and converts it into the DocBin when it completes.
"""
from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from .document import Document
from .writing import OutputError


@dataclass(frozen=True)
class OutputFormat:
    name: str
    piece: Callable[[Document], str]  # one document, as text
    head: str = ""
    separator: str = ""  # between two pieces: a JSON array's comma
    tail: str = ""
    convert: Optional[Callable[[Path, Path], None]] = None  # the completed file → the output, for a binary format

    def joined(self, pieces: list[str], after: int) -> str:
        """``pieces`` as they follow ``after`` pieces already written."""
        return "".join(p if after == 0 and i == 0 else self.separator + p for i, p in enumerate(pieces))


def output_format(name: str, to_file: bool) -> OutputFormat:
    """The format called ``name``, or an OutputError (a set-up error, before any work) for an
    unknown one or one this run cannot write."""
    if name not in OUTPUT_FORMATS:
        raise OutputError(f"--format {name!r}: use one of {', '.join(OUTPUT_FORMATS)}")
    if name == "spacy" and not to_file:
        raise OutputError("--format spacy writes a binary DocBin: name its file with --output (e.g. -o out.spacy)")
    if name == "spacy" and importlib.util.find_spec("spacy") is None:
        raise OutputError("--format spacy needs spaCy: pip install 'newstag[spacy]'")
    return _FORMATS[name]()


def _jsonl() -> OutputFormat:
    return OutputFormat("jsonl", lambda doc: doc.to_json() + "\n")


def _pretty() -> OutputFormat:
    from .pretty import who_said_what

    return OutputFormat("pretty", lambda doc: who_said_what(doc) + "\n")


def _html() -> OutputFormat:
    from .render import page_head, page_tail, render_document

    return OutputFormat("html", render_document, head=page_head(), tail=page_tail())


def _label_studio() -> OutputFormat:
    from .formats.label_studio import document_to_task

    # One task a line, so that a partial file is readable and a diff shows which task changed.
    return OutputFormat("label-studio", lambda doc: json.dumps(document_to_task(doc), ensure_ascii=False),
                        head="[\n", separator=",\n", tail="\n]\n")


def _spacy() -> OutputFormat:
    return OutputFormat("spacy", _jsonl().piece, convert=_jsonl_to_docbin)


def _jsonl_to_docbin(partial: Path, output: Path) -> None:
    from .document import iter_jsonl
    from .formats.spacy import write_docbin

    write_docbin(iter_jsonl(partial), output)
    partial.unlink()


_FORMATS = {"jsonl": _jsonl, "pretty": _pretty, "html": _html, "label-studio": _label_studio, "spacy": _spacy}
OUTPUT_FORMATS = tuple(_FORMATS)
