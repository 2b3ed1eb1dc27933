"""Writing files so that a reader never sees half of one: write beside, then rename.

Every file newstag writes whole (JSONL splits, reports, Label Studio tasks, model
files) goes through ``atomic_write``: a crash mid-write leaves the old file intact.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_write(path: str | Path, mode: str = "w"):
    """A handle on a temporary file beside ``path`` that replaces ``path`` when the block ends
    without an error (and is removed when it raises)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    encoding = None if "b" in mode else "utf-8"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with open(fd, mode, encoding=encoding) as fh:
            yield fh
        os.chmod(tmp, 0o644)  # readable by others, as a plain write would leave it under a usual umask
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: str | Path, text: str) -> None:
    with atomic_write(path) as fh:
        fh.write(text)


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
