"""What ``newstag predict`` writes, so that a run never loses work.

Output goes to ``OUT.partial`` as it is produced, flushed after every batch, and is
renamed to ``OUT`` only when the run completes. Beside it, ``OUT.partial.progress``
records how many input records are done and how many bytes of output they made, so
``--resume`` continues after the last complete batch (by input position: repeated ids
are safe) and cuts off anything written after it. Rejected records go, with their
reason, to ``--errors FILE`` as JSONL.
"""
from __future__ import annotations

import json
import os
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
    """``OUT.partial`` written batch by batch, with the progress that ``--resume`` reads."""

    def __init__(self, path: Path, resume: bool):
        self.path, self.partial = path, path.with_name(path.name + ".partial")
        self.progress = path.with_name(path.name + ".partial.progress")
        self.done, size = 0, 0
        if resume:
            self.done, size = self._read_progress()
        elif self.partial.exists():
            raise OutputError(f"{self.partial} holds an unfinished run: continue it with --resume, or delete it")
        self.fh = open(self.partial, "r+b" if resume else "wb")
        self.fh.truncate(size)  # what came after the last complete batch is written again
        self.fh.seek(size)

    def _read_progress(self) -> tuple[int, int]:
        if not self.partial.exists() or not self.progress.exists():
            raise OutputError(f"--resume: no unfinished run to continue ({self.partial} or {self.progress} is missing)")
        try:
            progress = json.loads(self.progress.read_text(encoding="utf-8"))
            return int(progress["records"]), int(progress["bytes"])
        except (ValueError, KeyError, TypeError) as exc:
            raise OutputError(f"{self.progress}: unreadable ({exc}); delete the .partial files and start again") from None

    def write_batch(self, lines: list[str], records: int) -> None:
        """The output of ``records`` more input records, made durable before it is counted."""
        self.fh.write("".join(lines).encode("utf-8"))
        self.fh.flush()
        os.fsync(self.fh.fileno())
        self.done += records
        write_text(self.progress, json.dumps({"records": self.done, "bytes": self.fh.tell()}))

    def finish(self) -> None:
        self.fh.close()
        os.chmod(self.partial, 0o644)
        os.replace(self.partial, self.path)
        self.progress.unlink(missing_ok=True)

    def close(self) -> None:
        self.fh.close()
