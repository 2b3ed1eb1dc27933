"""Readers that turn the formats users already have into Documents, and one writer.

newstag works on one interchange format (``document.Document``). People arrive with
CoNLL column files, brat standoff (PolNeAR), Label Studio exports or Hugging Face
datasets; each reader here converts one of them, checks offsets as it goes, and fails
with a ``FormatError`` that names the file, the line and the field, so that a bad
record can be found and fixed rather than silently skewing training or evaluation.

``load_corpus(format, path, **options)`` picks the reader by name.
"""
from __future__ import annotations

from pathlib import Path

from ..document import Document, read_jsonl
from .brat import read_brat
from .label_studio import read_label_studio, write_label_studio
from .markup import read_markup
from .tokens import read_conll, read_hf_dataset, tokens_to_document

__all__ = ["READERS", "load_corpus", "read_brat", "read_conll", "read_hf_dataset", "read_label_studio",
           "read_markup", "tokens_to_document", "write_label_studio"]


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
