"""What ``newstag predict`` writes, so that a run never loses work.

Output goes to ``OUT.partial`` as it is produced, flushed after every batch, and is
renamed to ``OUT`` only when the run completes. Beside it, ``OUT.partial.progress``
records how many input records are done and how many bytes of output they made, so
``--resume`` continues after the last complete batch (by input position: repeated ids
are safe) and cuts off anything written after it. A whole-file format (an HTML page, a
JSON array; outputs.py) has its head written when the run starts and its tail only when
it completes, so a resumed run appends pieces where the interrupted one stopped and ends
with the same file. Rejected records go, with their reason, to ``--errors FILE`` as JSONL.
Without ``--output`` the same pieces go to stdout (``StreamOutput``).
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Optional

from .files import write_text


class OutputError(ValueError):
    """An output that cannot be written (its folder is missing, it is also an input): a set-up error."""


def check_output(output: Optional[Path], inputs: list[str], errors: Optional[Path] = None) -> None:
    """Refuse, before any work, outputs that would destroy an input or cannot be written."""
    given = [Path(i).resolve() for i in inputs if i != "-"]
    for target, option in ((output, "--output"), (errors, "--errors")):
        if target is None:
            continue
        if target.resolve() in given:
            raise OutputError(f"{option} {target} is also an input: it would be overwritten before it is read")
        folder = target.resolve().parent
        if not folder.is_dir():
            raise OutputError(f"{option} {target}: folder {folder} does not exist")
        if not os.access(folder, os.W_OK):
            raise OutputError(f"{option} {target}: folder {folder} is not writable")
    if output is not None and errors is not None and output.resolve() == errors.resolve():
        raise OutputError("--output and --errors name the same file")


class ProgressiveOutput:
    """``OUT.partial`` written batch by batch between its format's head and tail, with the
    progress that ``--resume`` reads. ``format`` is an ``outputs.OutputFormat``."""

    def __init__(self, path: Path, resume: bool, format):
        self.path, self.partial = path, path.with_name(path.name + ".partial")
        self.progress = path.with_name(path.name + ".partial.progress")
        self.format = format
        self.done, self.pieces, size = 0, 0, 0
        if resume:
            self.done, self.pieces, size = self._read_progress()
        elif self.partial.exists():
            raise OutputError(f"{self.partial} holds an unfinished run: continue it with --resume, or delete it")
        self.fh = open(self.partial, "r+b" if resume else "wb")
        self.fh.truncate(size)  # what came after the last complete batch is written again
        self.fh.seek(size)
        if not resume:  # counted at once: a run stopped before its first batch resumes too
            self._append(format.head)

    def _read_progress(self) -> tuple[int, int, int]:
        if not self.partial.exists() or not self.progress.exists():
            raise OutputError(f"--resume: no unfinished run to continue ({self.partial} or {self.progress} is missing)")
        try:
            progress = json.loads(self.progress.read_text(encoding="utf-8"))
            started = progress.get("format", self.format.name)  # progress files before formats were recorded
            records, pieces, size = int(progress["records"]), int(progress.get("pieces", 0)), int(progress["bytes"])
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise OutputError(f"{self.progress}: unreadable ({exc}); delete the .partial files and start again") from None
        if started != self.format.name:
            raise OutputError(f"--resume: {self.partial} was started with --format {started}, not {self.format.name}; "
                              f"continue it with --format {started}")
        return records, pieces, size

    def write_batch(self, pieces: list[str], records: int) -> None:
        """The output of ``records`` more input records, made durable before it is counted."""
        text = self.format.joined(pieces, after=self.pieces)
        self.pieces += len(pieces)
        self.done += records
        self._append(text)

    def _append(self, text: str) -> None:
        self.fh.write(text.encode("utf-8"))
        self.fh.flush()
        os.fsync(self.fh.fileno())
        write_text(self.progress, json.dumps({"records": self.done, "bytes": self.fh.tell(), "pieces": self.pieces,
                                              "format": self.format.name}))

    def finish(self) -> None:
        """The tail, then the output in place: renamed, or converted where the format is binary."""
        self.fh.write(self.format.tail.encode("utf-8"))  # not counted: a resumed run writes it again
        self.fh.close()
        if self.format.convert is not None:
            self.format.convert(self.partial, self.path)
        else:
            os.chmod(self.partial, 0o644)
            os.replace(self.partial, self.path)
        self.progress.unlink(missing_ok=True)

    def close(self) -> None:
        self.fh.close()


class StreamOutput:
    """The same pieces on stdout (or ``stream``), flushed after every batch so that a feed gets
    answers as it goes; nothing to resume."""

    def __init__(self, format, stream=None):
        self.format, self.stream, self.pieces = format, stream or sys.stdout, 0
        self._write(format.head)

    def write_batch(self, pieces: list[str], records: int) -> None:
        self._write(self.format.joined(pieces, after=self.pieces))
        self.pieces += len(pieces)

    def finish(self) -> None:
        self._write(self.format.tail)

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()
