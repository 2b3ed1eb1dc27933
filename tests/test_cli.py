"""The command line, through typer's test runner."""
import json

from typer.testing import CliRunner

from newstag.cli import app
from newstag.document import write_jsonl

from conftest import tiny_config

runner = CliRunner()


def test_train_then_predict_then_evaluate(tmp_path, corpus_files):
    model = tmp_path / "m"
    result = runner.invoke(app, ["train", "--config", str(tiny_config(corpus_files)), "--output", str(model),
                                 "--set", "training.epochs=1"])
    assert result.exit_code == 0, result.output
    assert "\r" not in result.stderr, "piped: no progress bar"
    assert json.loads(result.stdout[result.stdout.index("{"):])["model"] == str(model)

    article = tmp_path / "article.txt"
    article.write_text("“We are ready,” said Ana Ruiz, the mayor of Quito.\n")
    result = runner.invoke(app, ["predict", "--model", str(model), str(article)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout.splitlines()[0])
    assert doc["id"] == "article.txt" and doc["text"] == article.read_text()

    result = runner.invoke(app, ["predict", "--model", str(model), "--format", "pretty", "-"], input="Ana Ruiz spoke.")
    assert result.exit_code == 0 and "== stdin ==" in result.stdout

    report = tmp_path / "report"
    result = runner.invoke(app, ["evaluate", "--model", str(model), "--data", str(corpus_files / "dev.jsonl"),
                                 "--report", str(report)])
    assert result.exit_code == 0, result.output
    assert "micro avg" in result.stdout
    scores = json.loads((report / "report.json").read_text())
    assert {"entities", "quotes"} <= scores.keys() and (report / "report.md").is_file()


def test_predict_rejects_a_broken_record_writes_the_rest_and_exits_3(tmp_path, tiny_model, gold_docs):
    data = tmp_path / "in.jsonl"
    write_jsonl(gold_docs[:2], data)
    lines = data.read_text().splitlines()
    data.write_text("\n".join([lines[0], '{"id": 5}', lines[1]]) + "\n")
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["predict", "--model", str(tiny_model), str(data), "--output", str(out)])
    assert result.exit_code == 3
    assert "in.jsonl:2" in result.stderr and "1 records rejected" in result.stderr
    assert [json.loads(l)["id"] for l in out.read_text().splitlines()] == [gold_docs[0].id, gold_docs[1].id]


def test_a_bad_config_key_is_an_error(tmp_path, corpus_files):
    result = runner.invoke(app, ["train", "--config", str(tiny_config(corpus_files)), "--set", "training.epoch=1"])
    assert result.exit_code == 2 and "training.epoch" in result.stderr


def test_training_set_up_errors_are_one_line_and_exit_2(tmp_path, corpus_files):
    config = str(tiny_config(corpus_files))
    cases = [(["--config", config, "--set", "train.5.limit=3"], "no item 5"),
             (["--config", config, "--set", f"train.0.path={tmp_path / 'missing.jsonl'}"], "corpus 'fixture'"),
             (["--config", str(tmp_path / "missing.yaml")], "no such config file")]
    for args, message in cases:
        result = runner.invoke(app, ["train", *args, "--output", str(tmp_path / "m"), "--no-progress"])
        assert result.exit_code == 2 and message in result.stderr and "Traceback" not in result.output, args


def test_data_check_finds_problems(tmp_path, gold_docs):
    good = tmp_path / "good.jsonl"
    write_jsonl(gold_docs, good)
    result = runner.invoke(app, ["data", "check", str(good), "--stats"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout[result.stdout.index("{"):])["good.jsonl"]["documents"] == len(gold_docs)

    bad_doc = gold_docs[0].model_copy(deep=True)
    bad_doc.entities[0].label = "PERSON"
    bad_doc.quotes[0].kind = "indirect"
    bad = tmp_path / "bad.jsonl"
    write_jsonl([bad_doc], bad)
    result = runner.invoke(app, ["data", "check", str(good), str(bad)])
    assert result.exit_code == 1
    assert "unknown label 'PERSON'" in result.stdout
    assert "indirect quote contains quoted words" in result.stdout
    assert "same text as" in result.stdout


def test_fit_linker_stores_a_learned_linker_in_a_model(tmp_path, tiny_model, corpus_files):
    import shutil

    model = tmp_path / "m"
    shutil.copytree(tiny_model, model)
    before = (model / "linker.safetensors").read_bytes()
    result = runner.invoke(app, ["fit-linker", "--model", str(model), "--data", str(corpus_files / "train.jsonl"),
                                 "--seed", "5"])
    assert result.exit_code == 0, result.output
    assert (model / "linker.safetensors").read_bytes() != before, "a newly fitted linker replaces the old one"
    assert json.loads((model / "config.json").read_text())["model"]["linker"] == "learned"
    assert "linker.safetensors" in json.loads((model / "manifest.json").read_text())["files"]
    result = runner.invoke(app, ["evaluate", "--model", str(model), "--data", str(corpus_files / "dev.jsonl"), "--linker", "rule"])
    assert result.exit_code == 0, result.output

    result = runner.invoke(app, ["fit-linker", "--model", str(model), "--data", str(corpus_files / "train.jsonl"),
                                 "--spans", "both"])
    assert result.exit_code != 0 and "gold or predicted" in result.output

def test_fit_linker_can_learn_from_the_models_own_spans(tmp_path, tiny_model, corpus_files, monkeypatch):
    import shutil

    from newstag.linking import Predictions
    from newstag.tagger import Tagger
    from test_learned_linker import tagger_spans_of

    model = tmp_path / "m"
    shutil.copytree(tiny_model, model)
    # A random tiny model finds no gold quote; stand in a tagger that finds them, a little off.
    monkeypatch.setattr(Tagger, "spans", lambda self, docs: [tagger_spans_of(d, shift_speakers=1) for d in docs])
    result = runner.invoke(app, ["fit-linker", "--model", str(model), "--data", str(corpus_files / "train.jsonl"),
                                 "--spans", "predicted", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["speaker_spans"] == "predicted"
    monkeypatch.setattr(Tagger, "spans", lambda self, docs: [Predictions() for _ in docs])
    result = runner.invoke(app, ["fit-linker", "--model", str(model), "--data", str(corpus_files / "train.jsonl"),
                                 "--spans", "predicted", "--device", "cpu"])
    assert result.exit_code != 0 and "found none of the gold quotes" in result.output


def test_fit_linker_names_a_bad_data_file_and_exits_2(tmp_path, tiny_model):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1}\n')
    for data, message in ((bad, "bad.jsonl:1: id"), (tmp_path / "missing.jsonl", "No such file")):
        result = runner.invoke(app, ["fit-linker", "--model", str(tiny_model), "--data", str(data)])
        assert result.exit_code == 2 and message in result.stderr and "Traceback" not in result.output


def test_long_commands_draw_no_progress_bar_when_piped(tmp_path, tiny_model, gold_docs):
    """A bar is for a terminal; piped, stderr carries only the messages a log wants."""
    from newstag.document import write_jsonl

    data = tmp_path / "in.jsonl"
    write_jsonl(gold_docs, data)
    for args in (["predict", "--model", str(tiny_model), str(data), "-o", str(tmp_path / "o.jsonl")],
                 ["evaluate", "--model", str(tiny_model), "--data", str(data)]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        assert "\r" not in result.stderr and "doc/s" not in result.stderr
