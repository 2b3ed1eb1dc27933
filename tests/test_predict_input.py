"""`newstag predict` never loses a valid record, reports every one it rejects with file,
line and reason, never destroys its input, and tells the shell the truth:
0 everything tagged, 2 a usage or set-up error, 3 some records rejected."""
import gzip
import json

import pytest
from typer.testing import CliRunner

from newstag.cli import app
from newstag.document import write_jsonl

from conftest import interrupted_at_batch, predict

runner = CliRunner()



def ids(path):
    return [json.loads(line)["id"] for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture()
def records(tmp_path, gold_docs):
    path = tmp_path / "in.jsonl"
    write_jsonl(gold_docs, path)
    return path


def test_an_output_that_is_also_an_input_is_refused_and_the_input_kept(tiny_model, records):
    before = records.read_bytes()
    result = predict(tiny_model, records, "-o", records)
    assert result.exit_code == 2 and "also an input" in result.stderr
    assert records.read_bytes() == before


def test_the_output_appears_only_when_the_run_completes(tiny_model, records, tmp_path):
    out = tmp_path / "out.jsonl"
    result = predict(tiny_model, records, "-o", out)
    assert result.exit_code == 0, result.output
    assert out.is_file() and not (tmp_path / "out.jsonl.partial").exists()


@pytest.mark.parametrize("size", ["0", "-3"])
def test_a_batch_size_below_one_is_a_usage_error(tiny_model, records, size):
    assert predict(tiny_model, records, "--batch-size", size).exit_code == 2


def test_one_undecodable_byte_rejects_one_record_and_keeps_the_others(tiny_model, tmp_path, gold_docs):
    good = [json.dumps({"id": f"a{i}", "text": f"Article {i} about Lima."}) for i in range(9)]
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join(line.encode() for line in good[:5]) + b'\n{"id": "bad", "text": "caf\xe9"}\n'
                     + b"\n".join(line.encode() for line in good[5:]) + b"\n")
    out, errors = tmp_path / "out.jsonl", tmp_path / "errors.jsonl"
    result = predict(tiny_model, path, "-o", out, "--errors", errors)
    assert result.exit_code == 3
    assert ids(out) == [f"a{i}" for i in range(9)]
    rejected, = [json.loads(line) for line in errors.read_text().splitlines()]
    assert rejected["line"] == 6 and "not UTF-8" in rejected["error"] and rejected["source"] == str(path)


def test_a_lone_surrogate_rejects_its_record_only(tiny_model, tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text('{"id": "a", "text": "Fine."}\n{"id": "b", "text": "x \\ud83d y"}\n{"id": "c", "text": "Also fine."}\n')
    out = tmp_path / "out.jsonl"
    result = predict(tiny_model, path, "-o", out)
    assert result.exit_code == 3 and "lone surrogate" in result.stderr
    assert ids(out) == ["a", "c"]


def test_the_python_api_names_the_item_it_cannot_take(tiny_model):
    from newstag.tagger import Tagger

    tagger = Tagger.load(tiny_model, device="cpu")
    with pytest.raises(ValueError, match="item 0: a lone surrogate"):
        tagger("x \ud83d")
    with pytest.raises(TypeError, match="item 1: expected a text or a Document, got NoneType"):
        list(tagger.pipe(["fine", None]))
    with pytest.raises(TypeError, match="an iterable of texts"):
        list(tagger.pipe("a string"))


@pytest.mark.parametrize("name", ["in.ndjson", "in.JSONL", "in.json", "in.jsonl.gz"])
def test_jsonl_is_recognised_by_every_usual_name(tiny_model, tmp_path, gold_docs, name):
    path = tmp_path / name
    lines = "".join(d.to_json() + "\n" for d in gold_docs).encode()
    path.write_bytes(gzip.compress(lines) if name.endswith(".gz") else lines)
    result = predict(tiny_model, path)
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == [d.id for d in gold_docs]


def test_stdin_under_the_default_format_is_read_as_jsonl_when_it_is(tiny_model, gold_docs):
    result = predict(tiny_model, "-", input="".join(d.to_json() + "\n" for d in gold_docs))
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == [d.id for d in gold_docs]


def test_an_unknown_input_format_is_a_usage_error(tiny_model, records):
    result = predict(tiny_model, records, "--input-format", "jsnol")
    assert result.exit_code == 2 and "jsnol" in result.stderr


def test_every_input_is_checked_before_any_work(tiny_model, records, tmp_path):
    out = tmp_path / "out.jsonl"
    result = predict(tiny_model, records, tmp_path / "missing.txt", records, "-o", out)
    assert result.exit_code == 2 and "missing.txt: no such file" in result.stderr
    assert not out.exists() and not (tmp_path / "out.jsonl.partial").exists()
    result = predict(tiny_model, tmp_path)
    assert result.exit_code == 2 and "is a folder" in result.stderr


def test_latin1_and_binary_files_are_rejected_records_not_tracebacks(tiny_model, tmp_path):
    latin, binary, fine = tmp_path / "latin.txt", tmp_path / "blob.txt", tmp_path / "fine.txt"
    latin.write_bytes("Señor Núñez said so.".encode("latin-1"))
    binary.write_bytes(bytes(range(256)))
    fine.write_text("Ana Ruiz said so.")
    result = predict(tiny_model, latin, binary, fine)
    assert result.exit_code == 3 and result.stderr.count("not UTF-8") == 2
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == ["fine.txt"]


def test_files_of_the_same_name_in_different_folders_keep_different_ids(tiny_model, tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "x.txt").write_text(f"From {folder}.")
    result = predict(tiny_model, tmp_path / "a" / "x.txt", tmp_path / "b" / "x.txt")
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == ["a/x.txt", "b/x.txt"]


def test_unknown_keys_of_a_record_are_kept_under_meta(tiny_model, tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text('{"id": "a", "text": "Fine.", "url": "https://example.org/a", "meta": {"desk": "x"}}\n')
    doc, = [json.loads(line) for line in predict(tiny_model, path).stdout.splitlines()]
    assert doc["meta"] == {"url": "https://example.org/a", "desk": "x"}


def test_set_up_errors_are_one_line_and_exit_2(tiny_model, records, tmp_path):
    result = predict(tmp_path / "no-model", records)
    assert result.exit_code == 2 and "no such model directory" in result.stderr and "Traceback" not in result.output
    result = predict(tiny_model, records, "-o", tmp_path / "missing" / "out.jsonl")
    assert result.exit_code == 2 and "does not exist" in result.stderr


def test_an_interrupted_run_resumes_to_the_same_output(tiny_model, tmp_path, monkeypatch):
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps({"id": f"a{i}", "text": f"Article {i} in Lima."}) + "\n" for i in range(7)))
    whole = tmp_path / "whole.jsonl"
    assert predict(tiny_model, path, "-o", whole, "--batch-size", "2").exit_code == 0
    out = tmp_path / "out.jsonl"
    with interrupted_at_batch(3):
        result = predict(tiny_model, path, "-o", out, "--batch-size", "2")
    assert result.exit_code == 130 and "--resume" in result.stderr
    assert not out.exists() and len((tmp_path / "out.jsonl.partial").read_text().splitlines()) == 4
    result = predict(tiny_model, path, "-o", out, "--batch-size", "2", "--resume")
    assert result.exit_code == 0, result.output
    assert out.read_text() == whole.read_text()
    result = predict(tiny_model, path, "-o", out, "--resume")
    assert result.exit_code == 2 and "no unfinished run" in result.stderr


def test_a_feed_gets_a_partial_batch_when_records_stop_coming():
    import time

    from newstag.reading import Record, batches

    def feed():
        yield Record(0, "<stdin>", 1)
        time.sleep(0.6)  # the feed pauses
        yield Record(1, "<stdin>", 2)

    started = time.perf_counter()
    first = next(batches(feed(), size=8, wait=0.1))
    assert len(first) == 1 and time.perf_counter() - started < 0.5


HOSTILE = {
    "empty": "",
    "whitespace": " \n\t\n  ",
    "rtl": "قال الوزير «سنبقى» في بيروت. אמר השר: \"נישאר\".",
    "controls": "Ana\x00 Ruiz\x07 said\x1b[31m “no”\x0c.",
    "unbalanced": "“We stay, said Ana Ruiz. ” “ “ ”” \"",
    "emoji and accents": "👩🏽‍⚕️ Dr. Mu\u0308ller said “🇺🇦 👍🏿” — Zoë, cafe\u0301.",
    "long word": "x" * 100_000 + " said Ana.",
    "long article": "“We hold,” said Ana Ruiz in Lima. " * 6_000,
}


def test_hostile_texts_are_all_tagged_with_spans_that_index_them(tiny_model, tmp_path):
    path = tmp_path / "hostile.jsonl"
    path.write_text("".join(json.dumps({"id": k, "text": v}) + "\n" for k, v in HOSTILE.items()))
    result = predict(tiny_model, path)
    assert result.exit_code == 0, result.output
    docs = [json.loads(line) for line in result.stdout.splitlines()]
    assert [d["id"] for d in docs] == list(HOSTILE)
    for doc in docs:
        assert doc["text"] == HOSTILE[doc["id"]]
        spans = doc["entities"] + doc["quotes"] + [q[k] for q in doc["quotes"] for k in ("cue", "speaker") if q[k]]
        assert all(doc["text"][s["start"]:s["end"]] == s["text"] for s in spans)


def test_hostile_texts_through_the_python_api(tiny_model):
    from newstag.tagger import Tagger

    tagger = Tagger.load(tiny_model, device="cpu")
    texts = list(HOSTILE.values())
    for text, doc in zip(texts, tagger.pipe(texts, batch_size=3)):
        assert doc.text == text
        assert all(text[s.start:s.end] == s.text for _, s in doc.spans())


def test_a_2_mb_article_is_tagged_and_linked_whole(tiny_model):
    """Tagging and linking are linear in length (windows, scores, decoding, candidate
    lookup by bisection): one 2 MB paragraph goes through the whole pipeline."""
    from newstag.tagger import Tagger

    text = "“We hold,” said Ana Ruiz in Lima. " * 60_000
    doc, = Tagger.load(tiny_model, device="cpu").pipe([text])
    assert doc.text == text
    assert all(text[s.start:s.end] == s.text for _, s in doc.spans())


def test_sigterm_stops_a_feed_cleanly_and_keeps_what_was_written(tiny_model, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "out.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "newstag.cli", "predict", "--model", str(tiny_model), "-o", str(out),
                             "--batch-size", "2", "-"], stdin=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    for i in range(3):
        proc.stdin.write((json.dumps({"id": f"a{i}", "text": f"Article {i} in Lima."}) + "\n").encode())
    proc.stdin.flush()  # the feed stays open: the third record goes out after the wait
    partial = tmp_path / "out.jsonl.partial"
    deadline = time.time() + 120
    while time.time() < deadline and (not partial.exists() or len(partial.read_text().splitlines()) < 3):
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr.decode()
    assert "--resume" in stderr.decode() and "Traceback" not in stderr.decode()
    assert [json.loads(line)["id"] for line in partial.read_text().splitlines()] == ["a0", "a1", "a2"]


def test_the_shards_of_a_run_take_every_record_exactly_once_by_its_position_over_all_inputs(tiny_model, tmp_path):
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first.write_text("".join(json.dumps({"id": f"a{i}", "text": f"Article {i} in Lima."}) + "\n" for i in range(4)))
    second.write_text("".join(json.dumps({"id": f"a{i}", "text": f"Article {i} in Lima."}) + "\n" for i in range(4, 7)))
    every = [f"a{i}" for i in range(7)]
    shards = []
    for k in range(3):
        result = predict(tiny_model, first, second, "--shard", f"{k}/3")
        assert result.exit_code == 0, result.output
        shards.append([json.loads(line)["id"] for line in result.stdout.splitlines()])
    assert shards == [every[k::3] for k in range(3)]
    assert sorted(sum(shards, [])) == every


@pytest.mark.parametrize("shard", ["3/2", "2/2", "a/b", "1/0", "-1/2", "1", "1/2/3"])
def test_a_shard_that_is_not_k_of_n_is_a_usage_error(tiny_model, records, shard):
    result = predict(tiny_model, records, "--shard", shard)
    assert result.exit_code == 2 and "--shard" in result.stderr and "Traceback" not in result.output
    assert result.stdout == ""


def test_an_interrupted_shard_resumes_to_the_same_output(tiny_model, tmp_path, monkeypatch):
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps({"id": f"a{i}", "text": f"Article {i} in Lima."}) + "\n" for i in range(11)))
    whole = tmp_path / "whole.jsonl"
    assert predict(tiny_model, path, "-o", whole, "--batch-size", "2", "--shard", "1/2").exit_code == 0
    assert ids(whole) == ["a1", "a3", "a5", "a7", "a9"]
    out = tmp_path / "out.jsonl"
    with interrupted_at_batch(2):
        result = predict(tiny_model, path, "-o", out, "--batch-size", "2", "--shard", "1/2")
    assert result.exit_code == 130
    assert ids(tmp_path / "out.jsonl.partial") == ["a1", "a3"]
    result = predict(tiny_model, path, "-o", out, "--batch-size", "2", "--shard", "1/2", "--resume")
    assert result.exit_code == 0, result.output
    assert out.read_text() == whole.read_text()


def test_a_model_that_will_not_load_leaves_no_partial_output(tmp_path):
    """The model is loaded before the output is opened: the next run is not told to --resume."""
    article = tmp_path / "a.txt"
    article.write_text("Ana Ruiz said so.")
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["predict", "--model", str(tmp_path / "no-model"), str(article), "-o", str(out)])
    assert result.exit_code == 2 and "no such model directory" in result.stderr
    assert list(tmp_path.iterdir()) == [article]


def test_threads_sets_the_models_cpu_threads_and_refuses_zero(tiny_model, tmp_path):
    import torch

    article = tmp_path / "a.txt"
    article.write_text("Ana Ruiz said so in Lima.")
    before = torch.get_num_threads()
    try:
        assert predict(tiny_model, article, "--threads", "1").exit_code == 0
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    assert predict(tiny_model, article, "--threads", "0").exit_code == 2
