"""`newstag predict --format label-studio` writes one JSON array of Label Studio tasks whose
spans are pre-annotations, importable as is into a project set up with the shipped
labelling config (`newstag label-studio-config`): every label and relation it uses is
defined there, and newstag's own Label Studio reader reads the file back to the same
documents (entities, quotes and their kinds, cues, speakers, resolved speakers)."""
import json
import xml.etree.ElementTree as ElementTree

from typer.testing import CliRunner

from newstag.cli import app
from newstag.document import Document, Entity, Quote, Span, read_jsonl, write_jsonl
from newstag.formats.label_studio import CONFIG_PATH, label_studio_config, read_label_studio
from newstag.outputs import output_format

from conftest import interrupted_at_batch, predict

runner = CliRunner()



def with_a_referent_that_is_no_entity(docs):
    """The fixture articles, and a scored prediction: a pronoun speaker resolved to a phrase
    that is no entity mention (a REFERENT region in Label Studio), and a quote the linker
    gave no speaker, with its confidence in that."""
    text = "The union leader spoke first. She said talks had failed. Prices rose, the Ruiz Group claimed."
    at = lambda piece: {"start": text.index(piece), "end": text.index(piece) + len(piece)}  # noqa: E731
    odd = Document(id="referent", text=text, entities=[Entity(**at("Ruiz Group"), label="ORG", score=0.91)], quotes=[
        Quote(**at("talks had failed"), kind="indirect", score=0.8, cue=Span(**at("said"), score=0.97),
              speaker=Span(**at("She"), score=0.95), speaker_entity=Span(**at("union leader")), speaker_score=0.7),
        Quote(**at("Prices rose"), kind="indirect", score=0.6, speaker_score=0.55)])
    return [*docs, odd]


def written(docs, path):
    """The file a run writes, piece by piece, as predict writes it."""
    fmt = output_format("label-studio", to_file=True)
    path.write_text(fmt.head + fmt.joined([fmt.piece(d) for d in docs], after=0) + fmt.tail, encoding="utf-8")
    return path


def config():
    """(labels of the Labels control, its name and toName, the Text's name and value, relation labels)."""
    root = ElementTree.fromstring(label_studio_config())
    labels, = root.iter("Labels")
    text, = root.iter("Text")
    return ({label.get("value") for label in labels.iter("Label")}, labels.get("name"), labels.get("toName"),
            labels.get("choice"), text.get("name"), text.get("value"),
            {relation.get("value") for relation in root.iter("Relation")})


def test_every_label_and_relation_the_pre_annotations_use_is_defined_in_the_config(gold_docs, tmp_path):
    tasks = json.loads(written(with_a_referent_that_is_no_entity(gold_docs), tmp_path / "tasks.json").read_text())
    defined, name, to_name, choice, text_name, text_value, relations = config()
    results = [r for task in tasks for prediction in task["predictions"] for r in prediction["result"]]
    regions = [r for r in results if r["type"] == "labels"]
    used = {label for r in regions for label in r["value"]["labels"]}
    assert used <= defined and {"PER", "ORG", "LOC", "MISC", "QUOTE", "CUE", "SPEAKER", "REFERENT"} <= used
    assert {"direct", "indirect", "mixed"} <= used and choice == "multiple"  # a QUOTE region also carries its kind
    assert {(r["from_name"], r["to_name"]) for r in regions} == {(name, to_name)} and to_name == text_name
    assert text_value == "$text" and all("text" in task["data"] for task in tasks)
    assert {label for r in results if r["type"] == "relation" for label in r["labels"]} <= relations


def test_the_reader_reads_the_pre_annotations_back_to_the_same_documents(gold_docs, tmp_path):
    docs = with_a_referent_that_is_no_entity(gold_docs)
    assert read_label_studio(written(docs, tmp_path / "tasks.json")) == docs  # spans, links, kinds and scores


def test_the_least_certain_span_or_speaker_sets_the_score_label_studio_sorts_by(gold_docs, tmp_path):
    tasks = json.loads(written(with_a_referent_that_is_no_entity(gold_docs), tmp_path / "tasks.json").read_text())
    assert [task["predictions"][0].get("score") for task in tasks] == [None] * len(gold_docs) + [0.55]


def test_predict_writes_one_json_array_that_reads_back_to_its_jsonl_predictions(tiny_model, tmp_path, gold_docs):
    write_jsonl(gold_docs, tmp_path / "in.jsonl")
    jsonl, tasks = tmp_path / "out.jsonl", tmp_path / "tasks.json"
    assert predict(tiny_model, tmp_path / "in.jsonl", "-o", jsonl, "--batch-size", "3").exit_code == 0
    result = predict(tiny_model, tmp_path / "in.jsonl", "-o", tasks, "--format", "label-studio", "--batch-size", "3")
    assert result.exit_code == 0, result.output
    assert len(json.loads(tasks.read_text(encoding="utf-8"))) == len(gold_docs)
    assert read_label_studio(tasks) == read_jsonl(jsonl)


def test_a_run_with_no_documents_writes_an_empty_array(tiny_model, tmp_path):
    (tmp_path / "empty.jsonl").write_text("")
    result = predict(tiny_model, tmp_path / "empty.jsonl", "--format", "label-studio")
    assert result.exit_code == 0 and json.loads(result.stdout) == []


def test_a_resumed_label_studio_run_is_the_same_json_as_an_uninterrupted_one(tiny_model, tmp_path, monkeypatch):
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps({"id": f"a{i}", "text": f"Ana Ruiz said in Lima {i}."}) + "\n" for i in range(5)))
    whole, out = tmp_path / "whole.json", tmp_path / "out.json"
    assert predict(tiny_model, path, "-o", whole, "--format", "label-studio", "--batch-size", "2").exit_code == 0
    with interrupted_at_batch(2):
        assert predict(tiny_model, path, "-o", out, "--format", "label-studio", "--batch-size", "2").exit_code == 130
    result = predict(tiny_model, path, "-o", out, "--format", "label-studio", "--batch-size", "2", "--resume")
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8") == whole.read_text(encoding="utf-8")
    assert [task["data"]["doc_id"] for task in json.loads(out.read_text(encoding="utf-8"))] == [f"a{i}" for i in range(5)]


def test_the_config_command_prints_the_packaged_config_or_its_path():
    result = runner.invoke(app, ["label-studio-config"])
    assert result.exit_code == 0 and result.stdout == CONFIG_PATH.read_text(encoding="utf-8")
    ElementTree.fromstring(result.stdout)
    result = runner.invoke(app, ["label-studio-config", "--path"])
    assert result.exit_code == 0 and result.stdout.strip() == str(CONFIG_PATH)
