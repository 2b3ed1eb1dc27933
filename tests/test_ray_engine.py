"""`newstag predict --engine ray`: input shards (JSONL, JSONL.gz, Parquet) tagged on Ray Data
give the same documents as the local engine, one output shard per input shard in input
order; bad records are rejected as the local engine rejects them; --resume redoes only the
shards that never finished; and the local engine never imports Ray.

One local Ray instance (2 CPUs) serves the whole module: starting Ray takes seconds."""
import gzip
import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from newstag import rayengine
from newstag.archive import model_sha256, write_tables
from newstag.document import read_jsonl, write_jsonl

from conftest import predict

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def ray_instance():
    import ray
    import ray.data  # here, not first inside a CliRunner run: Ray Data's log handler keeps the stderr it finds

    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.ERROR, object_store_memory=100 * 1024 ** 2)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def shards(tmp_path_factory, gold_docs):
    """Three input shards: a.jsonl (two articles), b.jsonl.gz (one), c.parquet (one, with a
    column the format does not know), and c.jsonl, the same article as a JSONL record."""
    folder = tmp_path_factory.mktemp("shards")
    write_jsonl(gold_docs[:2], folder / "a.jsonl")
    with gzip.open(folder / "b.jsonl.gz", "wt", encoding="utf-8") as fh:
        fh.write(gold_docs[2].to_json() + "\n")
    last = gold_docs[3]
    pq.write_table(pa.Table.from_pylist([{"id": last.id, "text": last.text, "url": "https://example.org/t4"}]),
                   folder / "c.parquet")
    (folder / "same-as-c").mkdir()
    (folder / "same-as-c" / "c.jsonl").write_text(json.dumps({"id": last.id, "text": last.text,
                                                               "url": "https://example.org/t4"}) + "\n")
    # Two shards with bad records: a broken JSON line and a span past its text; a Parquet
    # shard without ids (each row gets NAME:ROW) with a row that has no text.
    lines = [json.dumps({"id": "ok1", "text": "Ana Ruiz said it would rain in Lima."}),
             '{"id": "broken", "text": ',
             json.dumps({"id": "ok2", "text": "Rain fell on Lima."}),
             json.dumps({"id": "past", "text": "Short.", "entities": [{"start": 0, "end": 60, "label": "PER"}]})]
    (folder / "bad.jsonl").write_text("\n".join(lines) + "\n")
    pq.write_table(pa.Table.from_pylist([{"text": "Rain in Quito."}, {"text": None}, {"text": "Sun in Lima."}]),
                   folder / "rows.parquet")
    return folder


SHARDS = ("a.jsonl", "b.jsonl.gz", "c.parquet", "bad.jsonl", "rows.parquet")


@pytest.fixture(scope="module")
def local_run(tiny_model, shards, tmp_path_factory):
    """The local engine's output for the same articles, in the same order."""
    out = tmp_path_factory.mktemp("local") / "local.jsonl"
    result = predict(tiny_model, shards / "a.jsonl", shards / "b.jsonl.gz", shards / "same-as-c" / "c.jsonl",
                     "-o", out)
    assert result.exit_code == 0, result.output
    return read_jsonl(out)


@pytest.fixture(scope="module")
def ray_run(ray_instance, tiny_model, shards, tmp_path_factory):
    """Two workers, two records a batch, and blocks as small as they go, so that the records
    of a shard are spread over both actors and come back to be put in order."""
    out = tmp_path_factory.mktemp("ray") / "out"
    errors = out.with_name("errors.jsonl")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(rayengine, "MIN_BLOCK_BYTES", 1)
        mp.setattr(rayengine, "BLOCK_BYTES_PER_RECORD", 1)
        result = predict(tiny_model, "--engine", "ray", "--workers", "2", "--batch-size", "2",
                         *(shards / name for name in SHARDS), "-o", out, "--errors", errors)
    return out, result, errors


def spans(doc):
    """Everything a prediction says, scores aside."""
    where = lambda span: span and (span.start, span.end)  # noqa: E731
    quotes = [(q.start, q.end, q.kind, where(q.cue), where(q.speaker), where(q.speaker_entity)) for q in doc.quotes]
    return doc.id, doc.text, doc.meta, [(e.start, e.end, e.label) for e in doc.entities], quotes


def scores(doc):
    found = [e.score for e in doc.entities]
    for q in doc.quotes:
        found += [q.score, q.speaker_score, q.cue and q.cue.score, q.speaker and q.speaker.score]
    return found


def assert_same_documents(got, expected):
    assert [spans(d) for d in got] == [spans(d) for d in expected]
    for g, e in zip(got, expected):
        for a, b in zip(scores(g), scores(e)):
            assert (a is None) == (b is None) and (a is None or abs(a - b) <= 1e-3), (g.id, a, b)


def test_ray_writes_one_shard_per_input_with_what_the_local_engine_writes(ray_run, local_run):
    out, result, _ = ray_run
    assert result.exit_code == 3, result.output  # the bad records below
    assert sorted(p.name for p in out.iterdir()) == ["a.jsonl", "b.jsonl", "bad.jsonl", "c.jsonl", "rows.jsonl"]
    got = [d for name in ("a", "b", "c") for d in read_jsonl(out / f"{name}.jsonl")]
    assert got and any(d.quotes for d in got) and any(d.entities for d in got)
    assert_same_documents(got, local_run)


def test_jsonl_gz_and_parquet_shards_are_read_like_jsonl(ray_run, gold_docs):
    out, _, _ = ray_run
    assert [d.id for d in read_jsonl(out / "b.jsonl")] == [gold_docs[2].id]
    c, = read_jsonl(out / "c.jsonl")
    assert c.id == gold_docs[3].id and c.text == gold_docs[3].text
    assert c.meta == {"url": "https://example.org/t4"}  # a column the format does not know, kept as JSONL keeps a key
    assert [d.id for d in read_jsonl(out / "rows.jsonl")] == ["rows.parquet:1", "rows.parquet:3"]


def test_a_bad_record_is_rejected_with_its_file_line_and_reason_and_the_others_written(
        ray_run, tiny_model, shards, tmp_path):
    out, result, errors = ray_run
    bad, rows = str(shards / "bad.jsonl"), str(shards / "rows.parquet")
    assert result.exit_code == 3
    assert [d.id for d in read_jsonl(out / "bad.jsonl")] == ["ok1", "ok2"]
    rejected = [json.loads(line) for line in errors.read_text().splitlines()]
    assert [(r["source"], r["line"]) for r in rejected] == [(bad, 2), (bad, 4), (rows, 2)]
    assert rejected[2]["error"].startswith("text: ")
    for r in rejected:
        assert f"rejected: {r['source']}:{r['line']}: {r['error']}" in result.stderr
    assert "Traceback" not in result.output
    # The JSONL rejections are the local engine's, word for word.
    local_errors = tmp_path / "local-errors.jsonl"
    assert predict(tiny_model, bad, "-o", tmp_path / "local.jsonl", "--errors", local_errors).exit_code == 3
    local = [json.loads(line) for line in local_errors.read_text().splitlines()]
    assert [(r["source"], r["line"], r["error"]) for r in rejected[:2]] == [(r["source"], r["line"], r["error"])
                                                                         for r in local]


def test_parquet_output_holds_the_tables_newstag_tables_writes(ray_instance, tiny_model, shards, local_run, gold_docs,
                                                               tmp_path):
    out = tmp_path / "out"
    result = predict(tiny_model, "--engine", "ray", "--format", "parquet", shards / "a.jsonl", shards / "c.parquet",
                     "-o", out)
    assert result.exit_code == 0, result.output
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == [
        "entities", "entities/a.parquet", "entities/c.parquet", "quotes", "quotes/a.parquet", "quotes/c.parquet"]
    expected = tmp_path / "expected"  # `newstag tables` over the local engine's predictions of a and c
    write_tables([d for d in local_run if d.id != gold_docs[2].id], expected, model_sha256(tiny_model))
    for table in ("quotes", "entities"):
        got = pq.read_table(out / table).to_pylist()  # the shards' files, in name order, read as one table
        want = pq.read_table(expected / f"{table}.parquet").to_pylist()
        assert got and len(got) == len(want)
        for g, w in zip(got, want):
            assert {k: v for k, v in g.items() if "score" not in k} == {k: v for k, v in w.items() if "score" not in k}
            assert all(g[k] is None and w[k] is None or abs(g[k] - w[k]) <= 1e-3 for k in g if "score" in k)


def test_resume_redoes_only_the_shard_that_never_finished(ray_run, tiny_model, shards, tmp_path):
    fresh, _, _ = ray_run
    out = tmp_path / "out"
    shutil.copytree(fresh, out)
    (out / "b.jsonl").unlink()  # killed while b was being written: its output never got its final name
    (out / "b.jsonl.partial").write_text('{"id": "half a rec')
    kept = {p.name: os.stat(p) for p in out.iterdir() if p.suffix == ".jsonl"}
    result = predict(tiny_model, "--engine", "ray", *(shards / name for name in SHARDS), "-o", out, "--resume")
    assert result.exit_code == 0, result.output  # the shards with bad records are finished: not read again
    assert "4 of 5 shards are finished" in result.stderr
    assert "b.jsonl.gz: 1 documents tagged" in result.stderr
    assert "1 documents tagged, 0 records rejected" in result.stderr
    for name, before in kept.items():
        after = os.stat(out / name)
        assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns), name
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in fresh.iterdir())  # no .partial left
    assert_same_documents(read_jsonl(out / "b.jsonl"), read_jsonl(fresh / "b.jsonl"))


def test_a_folder_that_holds_a_run_is_refused_without_resume(ray_run, tiny_model, shards):
    out, _, _ = ray_run
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    result = predict(tiny_model, "--engine", "ray", shards / "a.jsonl", "-o", out)
    assert result.exit_code == 2 and "not empty" in result.stderr and "--resume" in result.stderr
    assert "Traceback" not in result.output
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


@pytest.mark.parametrize("args, message", [
    (["IN"], "needs --output"),
    (["IN", "-o", "OUT", "--shard", "0/2"], "--shard is for the local engine"),
    (["IN", "-o", "OUT", "--format", "html"], "jsonl or parquet"),
    (["-", "-o", "OUT"], "not stdin"),
    (["TEXT", "-o", "OUT"], "reads JSONL shards"),
    (["IN", "IN", "-o", "OUT"], "would both be written"),
    (["IN", "-o", "OUT", "--workers", "3", "--threads", "1"], "needs 3 CPUs"),
])
def test_a_run_that_cannot_start_is_one_line_and_exit_2(ray_instance, tiny_model, shards, tmp_path, args, message):
    (tmp_path / "article.txt").write_text("Rain in Lima.")
    names = {"IN": str(shards / "a.jsonl"), "OUT": str(tmp_path / "out"), "TEXT": str(tmp_path / "article.txt")}
    result = predict(tiny_model, "--engine", "ray", *(names.get(a, a) for a in args))
    assert result.exit_code == 2 and message in result.stderr, result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_without_ray_the_engine_says_how_to_install_it(tiny_model, shards, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails as it does where Ray is not installed
    result = predict(tiny_model, "--engine", "ray", shards / "a.jsonl", "-o", tmp_path / "out")
    assert result.exit_code == 2 and "pip install 'newstag[ray]'" in result.stderr
    assert "Traceback" not in result.output


def test_the_local_engine_never_imports_ray(tiny_model, shards, tmp_path):
    script = f"""
import sys
import newstag.cli
assert "ray" not in sys.modules, "import newstag.cli imported ray"
from typer.testing import CliRunner
result = CliRunner().invoke(newstag.cli.app, ["predict", "--model", {str(tiny_model)!r}, {str(shards / 'a.jsonl')!r},
                                              "-o", {str(tmp_path / 'out.jsonl')!r}])
assert result.exit_code == 0, result.output
assert "ray" not in sys.modules, "a local predict imported ray"
print("no ray")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0 and done.stdout.strip() == "no ray", done.stderr[-2000:]
