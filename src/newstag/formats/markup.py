"""The inline markup data/newswire is written in (corpus/markup.py compiles it)."""
from __future__ import annotations

from pathlib import Path

from ..document import Document


def read_markup(path: str | Path) -> list[Document]:
    """One markup file, or every ``*.txt`` in a folder."""
    from ..corpus.markup import compile_file

    path = Path(path)
    files = sorted(path.glob("*.txt")) if path.is_dir() else [path]
    return [doc for f in files for doc in compile_file(f)]
