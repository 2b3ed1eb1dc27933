"""`newstag compare MODEL_A MODEL_B --data FILE [--report DIR]`: two models on the same gold
data, each figure as `evaluate` reports it, B − A with a paired-bootstrap interval, the
documents where the two disagree most, and compare.json / compare.html."""
import json
import re
import shutil

import pytest
from typer.testing import CliRunner

from newstag.cli import app
from newstag.compare import CompareError, compare_predictions, compared_layers, write_report
from newstag.document import Document, Entity, write_jsonl
from newstag.evaluation import evaluate

from conftest import tiny_config

runner = CliRunner()
QUOTE_FIGURES = {"content_exact_f1", "content_token_f1", "cue_f1", "speaker_f1", "attribution_exact_f1",
                 "attribution_overlap_f1", "attribution_accuracy", "kind_accuracy"}


def _train(folder, corpus, **training):
    from newstag.config import load_config
    from newstag.training import train

    out = folder / "model"
    train(load_config(tiny_config(folder, train=corpus, dev=corpus, epochs=2, **training)), out, progress=False,
          log=lambda m: None)
    return out


@pytest.fixture(scope="module")
def other_model(tmp_path_factory, corpus_files):
    """A second tiny model: the same data as tiny_model, another seed."""
    return _train(tmp_path_factory.mktemp("other"), [{"name": "fixture", "path": str(corpus_files / "train.jsonl")}],
                  seed=14)


@pytest.fixture(scope="module")
def entities_model(tmp_path_factory, gold_docs):
    """A tiny model trained on entities only: it has no quote layer."""
    folder = tmp_path_factory.mktemp("entities")
    write_jsonl([d.model_copy(update={"layers": ["entities"], "quotes": []}) for d in gold_docs], folder / "ent.jsonl")
    return _train(folder, [{"name": "entities", "path": str(folder / "ent.jsonl")}], seed=14)


def compare(tmp_path, model_a, model_b, docs, *options):
    data = tmp_path / "gold.jsonl"
    write_jsonl(docs, data)
    result = runner.invoke(app, ["compare", str(model_a), str(model_b), "--data", str(data),
                                 "--report", str(tmp_path / "c"), *options])
    assert result.exit_code == 0, result.output
    assert {p.name for p in (tmp_path / "c").iterdir()} == {"compare.json", "compare.html"}
    return result, json.loads((tmp_path / "c" / "compare.json").read_text(encoding="utf-8"))


def evaluated(model, docs, tmp_path, name) -> dict:
    """`newstag evaluate --report` of a copy of the model (it adds to the model card): report.json."""
    data = tmp_path / "gold.jsonl"
    write_jsonl(docs, data)
    copy = tmp_path / f"{name}-model"
    shutil.copytree(model, copy)
    result = runner.invoke(app, ["evaluate", "-m", str(copy), "-d", str(data), "--report", str(tmp_path / name)])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / name / "report.json").read_text(encoding="utf-8"))
    return {k: v for k, v in report.items() if k not in ("model", "data")}


def reported(report: dict, key: str) -> float:
    """A figure as report.json holds it."""
    if key == "entity_f1":
        return report["entities"]["micro avg"]["f1"]
    if key.startswith("entity_f1:"):
        return report["entities"].get(key.split(":", 1)[1], {"f1": 0.0})["f1"]
    q = report["quotes"]
    return q[key] if key.endswith("accuracy") else q[key.removesuffix("_f1")]["f1"]


def figure_keys(report: dict) -> set[str]:
    labels = {f"entity_f1:{label}" for label in report["entities"] if "avg" not in label}
    return {"entity_f1"} | labels | (QUOTE_FIGURES if report["quotes"] else set())


# ---- against `evaluate` ---------------------------------------------------------------
def test_a_model_compared_with_itself_differs_by_zero_everywhere_and_on_no_document(tiny_model, tmp_path, gold_docs):
    result, out = compare(tmp_path, tiny_model, tiny_model, gold_docs)
    report = evaluated(tiny_model, gold_docs, tmp_path, "a")
    assert out["layers"] == ["entities", "quotes"] and out["notes"] == []
    assert set(out["figures"]) == figure_keys(report)
    for key, f in out["figures"].items():
        assert f["a"] == f["b"] == reported(report, key), key
        assert f["difference"] == 0 and f["interval"] == [0, 0] and f["beyond_noise"] is False, key
    assert out["disagreements"] == []
    assert out["evaluations"]["a"] == out["evaluations"]["b"] == report
    assert "agree on every span of every document" in result.stdout
    assert "agree on every span of every document" in (tmp_path / "c" / "compare.html").read_text(encoding="utf-8")


def test_the_figures_are_those_evaluate_reports_for_each_model_with_b_minus_a_inside_its_interval(
        tiny_model, other_model, tmp_path, gold_docs):
    result, out = compare(tmp_path, tiny_model, other_model, gold_docs)
    report_a = evaluated(tiny_model, gold_docs, tmp_path, "a")
    report_b = evaluated(other_model, gold_docs, tmp_path, "b")
    assert out["evaluations"] == {"a": report_a, "b": report_b}
    assert set(out["figures"]) == figure_keys(report_a) | figure_keys(report_b)
    for key, f in out["figures"].items():
        assert (f["a"], f["b"]) == (reported(report_a, key), reported(report_b, key)), key
        assert f["difference"] == round(f["b"] - f["a"], 2)
        assert f["interval"][0] <= f["difference"] <= f["interval"][1], key
        assert f["beyond_noise"] == (f["interval"][0] > 0 or f["interval"][1] < 0)
    assert out["documents"] == len(gold_docs) and out["bootstrap"]["resamples"] == 1000
    differing = [d["differing_spans"] for d in out["disagreements"]]
    assert differing and all(n > 0 for n in differing) and differing == sorted(differing, reverse=True)
    assert "B − A" in result.stdout and "entity F1" in result.stdout


def test_models_trained_on_different_layers_are_compared_on_the_layers_both_have_and_say_so(
        tiny_model, entities_model, tmp_path, gold_docs):
    result, out = compare(tmp_path, tiny_model, entities_model, gold_docs)
    assert out["layers"] == ["entities"]
    assert out["notes"] == [f"compared on entities only: B ({entities_model}) was not trained on quotes"]
    assert not QUOTE_FIGURES & set(out["figures"]) and "entity_f1" in out["figures"]
    report_a = evaluated(tiny_model, gold_docs, tmp_path, "a")
    report_b = evaluated(entities_model, gold_docs, tmp_path, "b")
    for key, f in out["figures"].items():
        assert (f["a"], f["b"]) == (reported(report_a, key), reported(report_b, key)), key
    assert out["evaluations"]["a"]["quotes"] == {} and out["evaluations"]["a"]["entities"] == report_a["entities"]
    assert "was not trained on quotes" in result.stdout
    assert "was not trained on quotes" in (tmp_path / "c" / "compare.html").read_text(encoding="utf-8")


def test_models_with_no_layer_in_common_are_refused_naming_both(gold_docs):
    with pytest.raises(CompareError, match=r"gold.jsonl: nothing to compare: .*A \(m1\) was trained on entities, "
                                           r"B \(m2\) on quotes"):
        compared_layers(gold_docs, ["entities"], ["quotes"], "m1", "m2", "gold.jsonl")


# ---- the bootstrap and the disagreements, on predictions made by hand ------------------
def without_entities(doc: Document, keep: int) -> Document:
    return doc.model_copy(update={"entities": doc.entities[:keep]})


def test_a_difference_on_every_document_is_beyond_noise_and_one_on_a_single_document_is_not(gold_docs):
    perfect = list(gold_docs)
    # B misses one entity of every document: every resample of the documents scores B lower.
    everywhere = [without_entities(d, len(d.entities) - 1) for d in gold_docs]
    c = compare_predictions(gold_docs, perfect, everywhere, ["entities", "quotes"])
    f = {x.key: x for x in c.figures}
    assert f["entity_f1"].a == 100.0
    assert f["entity_f1"].b == evaluate(gold_docs, everywhere)["entities"]["micro avg"]["f1"]
    assert f["entity_f1"].interval[0] <= f["entity_f1"].difference <= f["entity_f1"].interval[1] < 0
    assert f["entity_f1"].beyond_noise
    for key in QUOTE_FIGURES:  # the quotes are the same: no difference, and an interval of nothing
        assert f[key].difference == 0 and f[key].interval == (0, 0) and not f[key].beyond_noise, key

    # B misses one entity of one document in four: a quarter of resamples (3/4)^4 leave it out, B − A = 0 there.
    once = [without_entities(d, len(d.entities) - 1) if d.id == "t2" else d for d in gold_docs]
    f = {x.key: x for x in compare_predictions(gold_docs, perfect, once, ["entities", "quotes"]).figures}
    assert f["entity_f1"].difference < 0 and f["entity_f1"].interval[0] <= f["entity_f1"].difference
    assert f["entity_f1"].interval[1] == 0 and not f["entity_f1"].beyond_noise


def test_the_figures_from_per_document_counts_equal_evaluate_on_every_figure(gold_docs):
    a = [without_entities(d, 2) for d in gold_docs]
    b = [d.model_copy(update={"entities": [*d.entities[1:], Entity(start=0, end=4, label="MISC")],
                              "quotes": d.quotes[1:]}) for d in gold_docs]
    c = compare_predictions(gold_docs, a, b, ["entities", "quotes"])
    report_a, report_b = evaluate(gold_docs, a), evaluate(gold_docs, b)
    assert {f.key for f in c.figures} == figure_keys(report_a) | figure_keys(report_b)
    for f in c.figures:
        assert (f.a, f.b) == (reported(report_a, f.key), reported(report_b, f.key)), f.key


def test_the_documents_where_the_models_differ_most_come_first(gold_docs):
    a = list(gold_docs)
    b = [without_entities(d, len(d.entities) - {"t3": 3, "t1": 1}.get(d.id, 0)) for d in gold_docs]
    c = compare_predictions(gold_docs, a, b, ["entities", "quotes"])
    assert [(d.id, d.differing_spans, d.errors_a, d.errors_b) for d in c.disagreements] == [("t3", 3, 0, 3),
                                                                                           ("t1", 1, 0, 1)]


# ---- the page -------------------------------------------------------------------------
def test_the_comparison_page_loads_nothing_and_shows_figures_charts_and_documents(tiny_model, other_model, tmp_path,
                                                                                  gold_docs):
    compare(tmp_path, tiny_model, other_model, gold_docs, "--top", "2")
    page = (tmp_path / "c" / "compare.html").read_text(encoding="utf-8")
    for heading in ("Figures: A against B", "F1 per label", "Differences", "where A and B disagree most"):
        assert heading in page, heading
    assert page.count("<svg") == 2, "per-label F1 of A and B, and the differences with their intervals"
    assert page.count('<tr class="beyond">') + page.count('<tr class="noise">') == len(
        json.loads((tmp_path / "c" / "compare.json").read_text())["figures"])
    assert page.count('class="side-by-side"') == 2 and page.count("<h4>gold</h4>") == 2
    assert page.count(f"<h4>A: {tiny_model}</h4>") == 2 and page.count(f"<h4>B: {other_model}</h4>") == 2
    loads = re.findall(r'(?:src|href)\s*=\s*"([^"#][^"]*)"', page)
    assert loads == [], f"the page loads nothing: {loads[:3]}"
    assert "default-src 'none'" in page and "<script" not in page and "@import" not in page
    assert re.search(r"url\((?!#)", page) is None, "CSS and SVG refer only to parts of the page itself"


def test_article_text_and_ids_on_the_comparison_page_stay_text(tmp_path, gold_docs):
    hostile = Document(id="<b>hostile</b>", text="<script>alert(1)</script> Ana Ruiz said so in Lima.",
                       entities=[Entity(start=26, end=34, text="Ana Ruiz", label="PER"),
                                 Entity(start=46, end=50, text="Lima", label="LOC")])
    gold = [*gold_docs, hostile]
    c = compare_predictions(gold, gold, [without_entities(d, 0) if d.id == hostile.id else d for d in gold],
                            ["entities", "quotes"], "models/<a>", "models/b", "gold.jsonl")
    assert [d.id for d in c.disagreements] == [hostile.id]
    write_report(c, tmp_path, "newstag comparison: <a> against b")
    page = (tmp_path / "compare.html").read_text(encoding="utf-8")
    assert "<script" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>hostile</b>" not in page and "&lt;b&gt;hostile&lt;/b&gt;" in page
    assert "models/<a>" not in page and "models/&lt;a&gt;" in page
    assert json.loads((tmp_path / "compare.json").read_text())["disagreements"][0]["id"] == "<b>hostile</b>"


# ---- the command's errors -------------------------------------------------------------
def failed(*args):
    result = runner.invoke(app, ["compare", *map(str, args)])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_a_model_directory_that_does_not_load_is_one_line_naming_it_and_exit_2(tiny_model, tmp_path, gold_docs):
    data = tmp_path / "gold.jsonl"
    write_jsonl(gold_docs, data)
    empty = tmp_path / "not-a-model"
    empty.mkdir()
    assert str(empty) in failed(tiny_model, empty, "--data", data)
    assert str(tmp_path / "missing") in failed(tmp_path / "missing", tiny_model, "--data", data)


def test_a_missing_or_malformed_data_file_is_one_line_naming_it_and_exit_2(tiny_model, tmp_path, gold_docs):
    missing = tmp_path / "missing.jsonl"
    assert failed(tiny_model, tiny_model, "--data", missing) == f"{missing}: No such file or directory"
    bad = tmp_path / "bad.jsonl"
    bad.write_text(gold_docs[0].to_json() + "\n{\"id\": \"t2\", \"text\": \n", encoding="utf-8")
    assert failed(tiny_model, tiny_model, "--data", bad).startswith(f"{bad}:2: ")
    assert failed(tiny_model, tiny_model, "--data", bad, "--data-format", "conll").startswith(f"{bad}:1: ")
    twice = tmp_path / "twice.jsonl"
    write_jsonl([gold_docs[0], gold_docs[0]], twice)
    assert failed(tiny_model, tiny_model, "--data", twice).startswith(f"{twice}: gold document ids repeat: 't1'")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    assert failed(tiny_model, tiny_model, "--data", empty) == f"{empty}: no documents to compare on"
