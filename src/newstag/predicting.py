"""One ``newstag predict`` run: inputs checked (reading.py), records tagged batch by batch,
output written progressively (writing.py) in the chosen format (outputs.py), and an exit
status that tells the truth.

A record the tagger cannot take is retried alone and, if it still fails, rejected with
the reason; the rest of its batch is written. Ctrl-C and SIGTERM stop after the batch in
hand: what was written stays, and ``--resume`` continues from there.
"""
from __future__ import annotations

import signal
from pathlib import Path
from typing import Optional

from .outputs import output_format
from .progress import progress
from .reading import Record, batches, check_inputs, read_records, rejection_line
from .writing import ProgressiveOutput, StreamOutput, check_output

EXIT_OK, EXIT_USAGE, EXIT_REJECTED, EXIT_INTERRUPTED = 0, 2, 3, 130
FEED_WAIT = 0.5  # seconds without a new record before a partial batch is tagged (stdin feeds)


class PredictRun:
    def __init__(self, inputs: list[str], output: Optional[Path], input_format: str, errors: Optional[Path],
                 resume: bool, max_chars: int, shard: tuple[int, int] = (0, 1), format: str = "jsonl"):
        self.sources = check_inputs(inputs, input_format)
        self.format = output_format(format, to_file=output is not None)  # outputs.py: jsonl, pretty, html ...
        self.shard = shard  # (k, n): only the records at positions i % n == k
        check_output(output, inputs, errors)
        self.output = ProgressiveOutput(output, resume, self.format) if output else None
        self.errors = open(errors, "a" if resume else "w", encoding="utf-8") if errors else None
        self.max_chars = max_chars
        self.tagger = None
        self.tagged = self.rejected = 0

    def tag_all(self, batch_size: int, report) -> int:
        """Tag every record; the exit status (0, 3, or 130 when interrupted)."""
        sink = self.output or StreamOutput(self.format)  # stdout gets the format's head here; a file, when opened
        start = self.output.done if self.output else 0
        previous = signal.signal(signal.SIGTERM, _interrupt)
        try:
            records = read_records(self.sources, self.max_chars, start=start, shard=self.shard)
            bar = progress(desc="predict", unit="doc")
            for batch in batches(records, batch_size, FEED_WAIT):
                pieces = [self.format.piece(d) for d in self._tag(batch)]
                self._report_rejected(batch, report)
                sink.write_batch(pieces, len(batch))
                bar.update(len(batch))
            bar.close()
        except KeyboardInterrupt:
            where = f"; the output so far is in {self.output.partial}: continue with --resume" if self.output else ""
            report(f"interrupted after {self.tagged} documents{where}")
            return EXIT_INTERRUPTED
        finally:
            signal.signal(signal.SIGTERM, previous)
            if self.errors:
                self.errors.close()
        sink.finish()  # the format's tail; a file's OUT.partial then becomes OUT
        report(f"{self.tagged} documents tagged, {self.rejected} records rejected")
        return EXIT_REJECTED if self.rejected else EXIT_OK

    def _tag(self, batch: list[Record]) -> list:
        """Documents of the batch's good records; one that fails the tagger is retried alone
        and, failing again, rejected with the reason (nothing else in the batch is lost)."""
        good = [r for r in batch if r.doc is not None]
        try:
            docs = list(self.tagger.pipe([r.doc for r in good], batch_size=max(len(good), 1)))
        except (ValueError, RuntimeError, IndexError, TypeError):
            docs = []
            for record in good:
                try:
                    docs += list(self.tagger.pipe([record.doc], batch_size=1))
                except (ValueError, RuntimeError, IndexError, TypeError) as exc:
                    record.doc, record.error = None, f"tagging failed: {type(exc).__name__}: {exc}"
        self.tagged += len(docs)
        return docs

    def _report_rejected(self, batch: list[Record], report) -> None:
        for record in batch:
            if record.error is not None:
                self.rejected += 1
                report(f"rejected: {record.source}:{record.line}: {record.error}")
                if self.errors:
                    self.errors.write(rejection_line(record) + "\n")
        if self.errors:
            self.errors.flush()


def _interrupt(signum, frame):
    raise KeyboardInterrupt
