"""``newstag predict --engine ray``: tagging an archive of input shards on Ray Data.

This module owns the Ray engine, and is the only one that imports Ray (when a run starts,
never at import). Input shards (JSONL, JSONL.gz, Parquet) are read record by record in Ray
tasks under reading.py's rules, so a bad record is rejected with the same file, line (for
Parquet the row, from 1) and reason as the local engine gives. Records go, in batches, to
an actor pool (``map_batches`` with a callable class): each actor loads the model once and
keeps it. Each input shard becomes one output shard in ``--output DIR`` (its path relative
to the inputs' common folder, with the suffix of the output format): JSONL documents, or
with ``--format parquet`` the quote archive's two tables (archive.py) as
``DIR/quotes/NAME.parquet`` and ``DIR/entities/NAME.parquet``. Records keep their input
order within a shard. A shard is written under ``NAME.partial`` and renamed when it is
complete, so ``--resume`` skips the shards whose output exists and redoes the rest.
"""
from __future__ import annotations

import json
import os
import signal
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable, Iterator, Optional

from .reading import MAX_CHARS, Record

EXIT_OK, EXIT_REJECTED, EXIT_INTERRUPTED = 0, 3, 130
FORMATS = ("jsonl", "parquet")
PARQUET_SUFFIX = ".parquet"
BLOCK_BYTES_PER_RECORD = 16 * 1024  # Ray Data block target: about this many bytes per record of a batch
MIN_BLOCK_BYTES = 128 * 1024
INSTALL = "pip install 'newstag[ray]'"


class EngineError(ValueError):
    """A run the Ray engine cannot start (a bad option, input, output or model): a set-up error."""


def _ray():
    """Ray and Ray Data, or an EngineError saying how to install them."""
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise EngineError(f"--engine ray needs Ray Data: {INSTALL} ({exc})") from None
    return ray


# ---- shards: what is read and where its output goes ----

@dataclass(frozen=True)
class Shard:
    name: str  # as the user gave it: what rejections name
    path: str  # absolute: what the Ray workers open
    kind: str  # "jsonl" or "parquet"
    stem: str  # the output's name without suffix, relative to the inputs' common folder

    def outputs(self, out: Path, format: str) -> list[Path]:
        """The final output files; the shard is finished when all of them exist (the last
        one is renamed into place last)."""
        if format == "parquet":
            return [out / "entities" / (self.stem + PARQUET_SUFFIX), out / "quotes" / (self.stem + PARQUET_SUFFIX)]
        return [out / (self.stem + ".jsonl")]

    def finished(self, out: Path, format: str) -> bool:
        return all(p.is_file() for p in self.outputs(out, format))


def check_shards(names: list[str]) -> list[Shard]:
    """The input shards, checked before any work; EngineError names the first bad one."""
    from .reading import InputError, check_inputs, is_jsonl_name

    if not names or "-" in names:
        raise EngineError("--engine ray reads input shard files, not stdin: give the .jsonl(.gz) or .parquet files")
    try:
        inputs = check_inputs(names, "auto")
    except InputError as exc:
        raise EngineError(str(exc)) from None
    shards = []
    for source in inputs:
        lower = source.name.lower()
        if lower.endswith(PARQUET_SUFFIX):
            _check_parquet(source.name, source.path)
            shards.append(Shard(source.name, str(source.path.resolve()), "parquet",
                                source.doc_id[:-len(PARQUET_SUFFIX)]))
        elif is_jsonl_name(source.name):
            stem = source.doc_id[:-3] if lower.endswith(".gz") else source.doc_id
            shards.append(Shard(source.name, str(source.path.resolve()), "jsonl", os.path.splitext(stem)[0]))
        else:
            raise EngineError(f"{source.name}: --engine ray reads JSONL shards (.jsonl, .ndjson, .json, also .gz) "
                              f"and Parquet shards (.parquet); tag other files with the local engine")
    return shards


def _check_parquet(name: str, path: Path) -> None:
    from .archive import ArchiveError, _pyarrow

    try:
        pa, pq = _pyarrow()
    except ArchiveError as exc:
        raise EngineError(f"{name}: {exc}") from None
    try:
        columns = pq.ParquetFile(path).schema_arrow.names
    except (pa.ArrowException, OSError) as exc:
        raise EngineError(f"{name}: not a Parquet file ({exc})") from None
    if "text" not in columns:
        raise EngineError(f"{name}: no column 'text' (a Parquet shard holds one article a row: text, and "
                          f"optionally id and other fields)")


def check_output_dir(out: Path, shards: list[Shard], format: str, resume: bool) -> None:
    """Refuse, before any work, a DIR that is a file, holds another run (without --resume),
    cannot be written, or where two shards or a shard and an input would meet."""
    if out.exists() and not out.is_dir():
        raise EngineError(f"--output {out}: is a file; --engine ray writes one output per input shard into a folder")
    if out.is_dir() and not resume and any(out.iterdir()):
        raise EngineError(f"--output {out}: not empty; continue its run with --resume, or give a new or empty folder")
    existing = next(p for p in (out.absolute(), *out.absolute().parents) if p.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise EngineError(f"--output {out}: {existing} is not a writable folder")
    inputs = {Path(s.path): s for s in shards}
    written: dict[Path, Shard] = {}
    for shard in shards:
        for path in shard.outputs(out, format):
            path = path.resolve()
            if path in inputs:
                raise EngineError(f"--output {out}: the output of {shard.name} would overwrite the input "
                                  f"{inputs[path].name}")
            if path in written:
                raise EngineError(f"{written[path].name} and {shard.name} would both be written to {path}: "
                                  f"give shards with different names")
            written[path] = shard


# ---- reading, in Ray tasks ----

def read_shard(shard: Shard, max_chars: int) -> Iterator[Record]:
    """Every record of ``shard`` in order, each a Document or rejected with line and reason."""
    from .reading import Input, _records_of

    if shard.kind == "parquet":
        yield from _parquet_records(shard, max_chars)
    else:  # the local engine's own reader: same checks, same messages
        yield from _records_of(Input(shard.name, Path(shard.path), "jsonl", shard.stem), max_chars, None)


def _parquet_records(shard: Shard, max_chars: int) -> Iterator[Record]:
    """The rows of a Parquet shard as JSONL records would be read: each row as one JSON
    object, through the checks of a JSONL line (reading.py), its row number as its line.
    A row without an id (no column, or null) gets ``NAME:ROW``, and an integer id is taken
    as text; a null in a list column the format knows (entities, quotes, layers, meta)
    counts as absent."""
    from .archive import _pyarrow
    from .document import FormatError, parse_line
    from .reading import _check_text, _decoded, _reason

    pa, pq = _pyarrow()
    row = 0
    try:
        for batch in pq.ParquetFile(shard.path).iter_batches(batch_size=64):
            for values in batch.to_pylist():
                row += 1
                record = Record(0, shard.name, row)
                try:
                    text = _decoded(_row_json(values, f"{shard.stem}{PARQUET_SUFFIX}:{row}"), max_chars)
                    record.doc = parse_line(text, shard.name, row, unknown_keys="meta")
                    _check_text(record.doc.text)
                except (FormatError, ValueError) as exc:
                    record.doc, record.error = None, _reason(exc)
                yield record
    except (pa.ArrowException, OSError) as exc:  # a damaged file: what was read stands, the rest is reported
        yield Record(0, shard.name, row + 1, error=f"unreadable after the rows above ({exc})")


_DEFAULTED = ("layers", "entities", "quotes", "meta")


def _row_json(values: dict, default_id: str) -> bytes:
    row = {}
    for key, value in values.items():
        if value is None and key in _DEFAULTED:
            continue
        if isinstance(value, bytes):  # a binary column: text only if it is UTF-8
            try:
                value = value.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ValueError(f"{key}: not UTF-8: byte 0x{value[exc.start]:02x} at byte offset {exc.start}") \
                    from None
        row[key] = value
    if row.get("id") is None:
        row["id"] = default_id
    elif isinstance(row["id"], int) and not isinstance(row["id"], bool):  # an integer id column: its numbers as text
        row["id"] = str(row["id"])
    return json.dumps(row, ensure_ascii=False, default=_jsonable).encode("utf-8")


def _jsonable(value):
    """Parquet values JSON has no type for: dates and times as ISO 8601, the rest as text."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _read_rows(item: dict, shards: list[Shard], max_chars: int) -> Iterator[dict]:
    """flat_map: one pending shard → its records as rows (``doc`` the document's JSON, or
    ``error`` why it was rejected)."""
    task = int(item["task"])
    for row, record in enumerate(read_shard(shards[task], max_chars)):
        yield {"task": task, "row": row, "line": record.line, "source": record.source,
               "doc": record.doc.to_json() if record.doc is not None else "", "error": record.error or ""}


# ---- tagging, in Ray actors ----

class TagActor:
    """One copy of the model, loaded once when the actor starts; tags batches of rows."""

    def __init__(self, model: str, device: str, linker: Optional[str], backend: str, threads: int, format: str,
                 model_sha256: Optional[str]):
        import torch

        from .tagger import Tagger

        torch.set_num_threads(threads)
        self.tagger = Tagger.load(model, device=device, linker=linker, backend=backend, threads=threads)
        self.format = format
        if format == "parquet":
            from . import __version__
            from .archive import Provenance

            self.provenance = Provenance(model_sha256, __version__)

    def __call__(self, batch: dict) -> dict:
        import numpy as np

        from .document import Document

        docs, errors = list(batch["doc"]), [str(e) for e in batch["error"]]
        good = [i for i, d in enumerate(docs) if d]
        pieces = [""] * len(docs)
        for i, tagged in zip(good, self._tag([Document.model_validate_json(docs[i]) for i in good])):
            if isinstance(tagged, str):
                errors[i] = tagged
            else:
                pieces[i] = self._piece(tagged)
        return {"task": np.asarray(batch["task"]), "row": np.asarray(batch["row"]), "line": np.asarray(batch["line"]),
                "source": np.asarray(batch["source"], dtype=object), "piece": np.asarray(pieces, dtype=object),
                "error": np.asarray(errors, dtype=object)}

    def _tag(self, docs: list) -> list:
        """Tagged documents in order; one that fails the tagger is retried alone and, failing
        again, replaced by the reason (as the local engine does: predicting.py)."""
        try:
            return list(self.tagger.pipe(docs, batch_size=max(len(docs), 1)))
        except (ValueError, RuntimeError, IndexError, TypeError):
            out = []
            for doc in docs:
                try:
                    out += list(self.tagger.pipe([doc], batch_size=1))
                except (ValueError, RuntimeError, IndexError, TypeError) as exc:
                    out.append(f"tagging failed: {type(exc).__name__}: {exc}")
            return out

    def _piece(self, doc) -> str:
        if self.format == "parquet":
            from .archive import entity_rows, quote_rows

            return json.dumps({"quotes": quote_rows(doc, self.provenance),
                               "entities": entity_rows(doc, self.provenance)}, ensure_ascii=False)
        return doc.to_json() + "\n"


# ---- writing, in the driver ----

class JsonlShardOutput:
    """One shard's documents, one a line, in ``NAME.jsonl.partial`` until complete."""

    def __init__(self, paths: list[Path]):
        self.path, = paths
        self.partial = self.path.with_name(self.path.name + ".partial")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fh = open(self.partial, "w", encoding="utf-8")

    def add(self, piece: str) -> None:
        self.fh.write(piece)

    def finish(self) -> None:
        self.fh.flush()
        os.fsync(self.fh.fileno())
        self.fh.close()
        os.chmod(self.partial, 0o644)
        os.replace(self.partial, self.path)

    def abort(self) -> None:
        self.fh.close()
        self.partial.unlink(missing_ok=True)


class ParquetShardOutput:
    """One shard's quotes and entities tables (archive.py's rows and schemas), each in
    ``NAME.parquet.partial`` until the shard is complete; quotes are renamed last."""

    def __init__(self, paths: list[Path]):
        from .archive import ROWS_PER_GROUP, _pyarrow, entities_schema, quotes_schema

        self.pa, pq = _pyarrow()
        self.rows_per_group = ROWS_PER_GROUP
        self.tables = {}
        for key, path, schema in (("entities", paths[0], entities_schema()), ("quotes", paths[1], quotes_schema())):
            partial = path.with_name(path.name + ".partial")
            path.parent.mkdir(parents=True, exist_ok=True)
            self.tables[key] = {"path": path, "partial": partial, "schema": schema, "rows": [],
                                "writer": pq.ParquetWriter(str(partial), schema)}

    def add(self, piece: str) -> None:
        rows = json.loads(piece)
        for key, table in self.tables.items():
            table["rows"] += rows[key]
            if len(table["rows"]) >= self.rows_per_group:
                self._flush(table)

    def _flush(self, table: dict) -> None:
        if table["rows"]:
            table["writer"].write_table(self.pa.Table.from_pylist(table["rows"], schema=table["schema"]))
            table["rows"] = []

    def finish(self) -> None:
        for table in self.tables.values():
            self._flush(table)
            table["writer"].close()
        for table in self.tables.values():  # entities first: the quotes table appearing marks the shard done
            os.chmod(table["partial"], 0o644)
            os.replace(table["partial"], table["path"])

    def abort(self) -> None:
        for table in self.tables.values():
            table["writer"].close()
            table["partial"].unlink(missing_ok=True)


_OUTPUTS = {"jsonl": JsonlShardOutput, "parquet": ParquetShardOutput}


# ---- the run ----

@dataclass
class Settings:
    model: Path
    output: Optional[Path]
    format: str = "jsonl"
    input_format: str = "auto"
    shard: Optional[str] = None
    batch_size: int = 8
    device: str = "auto"
    linker: Optional[str] = None
    backend: str = "torch"
    resume: bool = False
    errors: Optional[Path] = None
    max_chars: int = MAX_CHARS
    threads: Optional[int] = None
    workers: int = 1


def predict_on_ray(inputs: list[str], settings: Settings, report: Callable[[str], None]) -> int:
    """``newstag predict --engine ray``: the exit status (0, 3, or 130 when interrupted);
    EngineError, before anything is written, for a run that cannot start."""
    from .writing import OutputError, check_output

    s = settings
    if s.output is None:
        raise EngineError("--engine ray needs --output DIR: it writes one output per input shard into that folder")
    if s.format not in FORMATS:
        raise EngineError(f"--engine ray writes --format jsonl or parquet, not {s.format!r}")
    if s.shard is not None:
        raise EngineError("--shard is for the local engine: --engine ray shares the input shards out itself")
    if s.input_format != "auto":
        raise EngineError("--input-format is for the local engine: --engine ray reads JSONL and Parquet shards by "
                          "their names")
    _ray()
    shards = check_shards(inputs)
    check_output_dir(s.output, shards, s.format, s.resume)
    try:
        check_output(None, inputs, s.errors)
    except OutputError as exc:
        raise EngineError(str(exc)) from None
    digest = _check_model(s)
    pending = [sh for sh in shards if not (s.resume and sh.finished(s.output, s.format))]
    if len(pending) < len(shards):
        report(f"--resume: {len(shards) - len(pending)} of {len(shards)} shards are finished in {s.output}; "
               f"tagging the other {len(pending)}")
    if not pending:
        report("nothing left to tag")
        return EXIT_OK
    return _RayRun(pending, s, digest, report).run()


def _check_model(s: Settings) -> Optional[str]:
    """Load the model once here, so that a model that will not load stops the run before any
    actor starts or anything is written; for Parquet output, the weights' SHA-256."""
    from .archive import model_sha256
    from .modeldir import ModelDirError
    from .tagger import Tagger

    try:
        Tagger.load(s.model, device="cpu", linker=s.linker, backend=s.backend, threads=1)
        return model_sha256(s.model) if s.format == "parquet" else None
    except (ModelDirError, ValueError, RuntimeError, OSError) as exc:
        raise EngineError(str(exc)) from None


class _RayRun:
    def __init__(self, shards: list[Shard], settings: Settings, digest: Optional[str], report):
        self.shards, self.s, self.digest, self.report = shards, settings, digest, report
        self.errors = None  # --errors, opened once the run can start
        self.tagged = self.rejected = self.finished = 0
        self.current: Optional[int] = None  # the pending shard being written
        self.output = None
        self.next_row = 0
        self.shard_rejections: list[str] = []
        self.shard_tagged = 0

    def run(self) -> int:
        import logging

        ray = _ray()
        started_here = not ray.is_initialized()
        previous = signal.getsignal(signal.SIGTERM)
        context = saved = consoles = None
        try:
            if started_here:  # a local instance, or the cluster RAY_ADDRESS names
                ray.init(include_dashboard=False, logging_level=logging.ERROR)
            signal.signal(signal.SIGTERM, _interrupt)  # after ray.init, which sets its own
            context = ray.data.DataContext.get_current()
            saved = (context.execution_options.preserve_order, context.target_max_block_size,
                     context.enable_progress_bars)
            consoles = _quiet_ray_data_console()
            compute = self._resources(ray)
            context.execution_options.preserve_order = True  # rows come back in input order
            # Blocks of a few batches, so the records of one large shard spread over the actors.
            context.target_max_block_size = max(MIN_BLOCK_BYTES, self.s.batch_size * BLOCK_BYTES_PER_RECORD)
            context.enable_progress_bars = False
            self.s.output.mkdir(parents=True, exist_ok=True)
            if self.s.errors:
                self.errors = open(self.s.errors, "a" if self.s.resume else "w", encoding="utf-8")
            return self._tag_all(ray, compute)
        except KeyboardInterrupt:  # before the first shard was opened (_tag_all handles it from then on)
            self.report("interrupted while Ray was starting; nothing was tagged")
            return EXIT_INTERRUPTED
        finally:
            signal.signal(signal.SIGTERM, previous)
            if self.errors:
                self.errors.close()
            for handler, level in consoles or []:
                handler.setLevel(level)
            if saved is not None:
                (context.execution_options.preserve_order, context.target_max_block_size,
                 context.enable_progress_bars) = saved
            if started_here and ray.is_initialized():
                ray.shutdown()

    def _resources(self, ray) -> dict:
        """The actors' resources: ``threads`` CPUs each (default: the cluster's CPUs shared
        out), and on CUDA a GPU each, or an equal share of the GPUs there are."""
        s = self.s
        cluster = ray.cluster_resources()
        cpus, gpus = int(cluster.get("CPU", 0)), float(cluster.get("GPU", 0))
        threads = s.threads or max(1, cpus // s.workers)
        if s.workers * threads > cpus:
            raise EngineError(f"--workers {s.workers} with --threads {threads} each needs {s.workers * threads} CPUs; "
                              f"the Ray cluster has {cpus}")
        device = "cpu" if s.backend != "torch" else s.device if s.device != "auto" else "cuda" if gpus else "cpu"
        if device == "cuda" and not gpus:
            raise EngineError("--device cuda: the Ray cluster has no GPU")
        self.report(f"ray: {s.workers} workers, {threads} CPU threads each"
                    + (f", {min(1.0, gpus / s.workers):.2g} GPU each" if device == "cuda" else "") + f" ({device})")
        remote = {"num_cpus": threads}
        if device == "cuda":
            remote["num_gpus"] = min(1.0, gpus / s.workers)
        return {"remote": remote, "device": device, "threads": threads}

    def _tag_all(self, ray, compute: dict) -> int:
        from .progress import progress

        s = self.s
        ds = ray.data.from_items([{"task": i} for i in range(len(self.shards))], override_num_blocks=len(self.shards))
        # Reading takes no CPU of its own: the actors hold them all, and reading is light beside tagging.
        ds = ds.flat_map(partial(_read_rows, shards=self.shards, max_chars=s.max_chars), num_cpus=0)
        ds = ds.map_batches(TagActor, batch_size=s.batch_size, batch_format="numpy",
                            compute=ray.data.ActorPoolStrategy(size=s.workers),
                            fn_constructor_kwargs={"model": str(s.model.resolve()), "device": compute["device"],
                                                   "linker": s.linker, "backend": s.backend,
                                                   "threads": compute["threads"],
                                                   "format": s.format, "model_sha256": self.digest},
                            **compute["remote"])
        bar = progress(desc="predict", unit="doc")
        try:
            for row in ds.iter_rows():
                self._take(row)
                bar.update(1)
            self._finish_all()
        except KeyboardInterrupt:
            if self.output is not None:
                self.output.abort()
            self.report(f"interrupted after {self.tagged} documents; {self.finished} shards are finished in "
                        f"{s.output}: continue with --resume")
            return EXIT_INTERRUPTED
        except BaseException:
            if self.output is not None:
                self.output.abort()
            raise
        finally:
            bar.close()
        self.report(f"{self.tagged} documents tagged, {self.rejected} records rejected; "
                    f"{len(self.shards)} shards written to {s.output}")
        return EXIT_REJECTED if self.rejected else EXIT_OK

    def _take(self, row: dict) -> None:
        task, number = int(row["task"]), int(row["row"])
        if self.current is None or task > self.current:
            self._advance_to(task)
        if task != self.current or number != self.next_row:  # preserve_order promises this; a break would lose records
            raise RuntimeError(f"Ray returned {self.shards[task].name} row {number} out of order "
                               f"(expected {self.shards[self.current].name} row {self.next_row})")
        self.next_row += 1
        if row["error"]:
            self.rejected += 1
            record = Record(number, str(row["source"]), int(row["line"]), error=str(row["error"]))
            self.report(f"rejected: {record.source}:{record.line}: {record.error}")
            self.shard_rejections.append(json.dumps(record.rejection(), ensure_ascii=False))
        else:
            self.output.add(str(row["piece"]))
            self.tagged += 1
            self.shard_tagged += 1

    def _advance_to(self, task: int) -> None:
        """Complete the shard in hand and every pending shard before ``task`` (a shard with no
        records has no rows: it gets an empty output), and open ``task``'s output."""
        while self.current is None or self.current < task:
            if self.output is not None:
                self._complete()
            self.current = 0 if self.current is None else self.current + 1
            self.next_row, self.shard_rejections, self.shard_tagged = 0, [], 0
            self.output = _OUTPUTS[self.s.format](self.shards[self.current].outputs(self.s.output, self.s.format))

    def _finish_all(self) -> None:
        self._advance_to(len(self.shards) - 1)
        self._complete()

    def _complete(self) -> None:
        """Rejections to --errors first, then the shard renamed into place."""
        shard = self.shards[self.current]
        if self.errors and self.shard_rejections:
            self.errors.write("".join(line + "\n" for line in self.shard_rejections))
            self.errors.flush()
            os.fsync(self.errors.fileno())
        self.output.finish()
        self.output = None
        self.finished += 1
        self.report(f"{shard.name}: {self.shard_tagged} documents tagged, {len(self.shard_rejections)} rejected "
                    f"-> {', '.join(str(p) for p in shard.outputs(self.s.output, self.s.format))}")


def _quiet_ray_data_console() -> list:
    """Ray Data's console log at WARNING for the run (its INFO lines name internal datasets and
    plans; its file log under the Ray session keeps everything), and without the one warning
    that says its progress bars are off (the engine shows its own). The handlers and their
    levels before, to restore."""
    import logging

    from ray.util.debug import log_once

    log_once("ray_data_progress_manager_disabled")  # marks it as said
    consoles = [h for h in logging.getLogger("ray.data").handlers
                if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)]
    saved = [(h, h.level) for h in consoles]
    for handler in consoles:
        handler.setLevel(max(handler.level, logging.WARNING))
    return saved


def _interrupt(signum, frame):
    raise KeyboardInterrupt
