"""newstag output as spaCy Docs (`newstag.formats.spacy.to_spacy`, `newstag predict --format
spacy`): entities in `doc.ents` and quotes in the span group `doc.spans["quotes"]` with
their kind, cue, speaker and resolved speaker, at newstag's exact offsets in ordinary
text, readable by displaCy and spaCy pipelines and kept through a DocBin. spaCy is an
optional extra: importing newstag never imports it."""
import json
import os
import subprocess
import sys
from importlib.util import find_spec

import pytest
from typer.testing import CliRunner

from newstag.cli import app
from newstag.document import Document, Entity, Quote, Span

needs_spacy = pytest.mark.skipif(find_spec("spacy") is None, reason="spaCy is not installed (pip install 'newstag[spacy]')")
runner = CliRunner()


def offsets(span):
    return None if span is None else (span.start, span.end)


def test_importing_newstag_and_its_command_line_does_not_import_spacy():
    code = ("import sys, newstag, newstag.cli, newstag.formats, newstag.outputs, newstag.render, newstag.predicting; "
            "print('spacy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0 and out.stdout.strip() == "False", out.stderr


@needs_spacy
def test_every_entity_keeps_its_exact_offsets_and_label_in_ordinary_text(gold_docs):
    from newstag.formats.spacy import to_spacy

    for doc in gold_docs:
        assert [(e.start_char, e.end_char, e.label_) for e in to_spacy(doc).ents] == \
               [(e.start, e.end, e.label) for e in doc.entities]


@needs_spacy
def test_every_quote_keeps_its_offsets_kind_cue_speaker_and_resolved_speaker(gold_docs):
    from newstag.formats.spacy import to_spacy

    for doc in gold_docs:
        sdoc = to_spacy(doc)  # held: a span group lives only as long as its Doc
        quotes = sdoc.spans["quotes"]
        assert [(q.start_char, q.end_char, q.label_, q._.kind, q._.cue, q._.speaker, q._.speaker_entity) for q in quotes] == [
            (q.start, q.end, q.kind, q.kind, offsets(q.cue), offsets(q.speaker), offsets(q.speaker_entity))
            for q in doc.quotes]


@needs_spacy
def test_a_quote_attribute_gives_its_span_back_through_char_span(gold_docs):
    from newstag.formats.spacy import to_spacy

    sdoc = to_spacy(gold_docs[0])
    she_said = sdoc.spans["quotes"][2]
    assert sdoc.char_span(*she_said._.speaker).text == "She" and sdoc.char_span(*she_said._.speaker_entity).text == "Inés Ñáñez"
    assert sdoc._.id == "t1"


@needs_spacy
def test_a_span_that_ends_inside_a_token_grows_to_the_whole_token():
    from newstag.formats.spacy import to_spacy

    doc = Document(id="x", text="Anastasia said so.", entities=[Entity(start=0, end=3, label="PER", score=0.4)],
                   quotes=[Quote(start=14, end=16, kind="indirect", cue=Span(start=10, end=14))])
    sdoc = to_spacy(doc)
    assert [(e.text, e.label_) for e in sdoc.ents] == [("Anastasia", "PER")]
    quote, = sdoc.spans["quotes"]
    assert quote.text == "so" and quote._.cue == (10, 14)  # the attribute keeps newstag's own offsets


@needs_spacy
def test_overlapping_entities_keep_the_longest_in_doc_ents():
    from newstag.formats.spacy import to_spacy

    text = "The Bank of Lima rose."
    doc = Document(id="x", text=text, entities=[Entity(start=4, end=16, label="ORG"), Entity(start=12, end=16, label="LOC")])
    assert [(e.text, e.label_) for e in to_spacy(doc).ents] == [("Bank of Lima", "ORG")]


@needs_spacy
def test_displacy_draws_the_entities_and_the_quotes(gold_docs):
    from spacy import displacy

    from newstag.formats.spacy import to_spacy

    sdoc = to_spacy(gold_docs[0])
    assert "Inés Ñáñez" in displacy.render(sdoc, style="ent") and "PER" in displacy.render(sdoc, style="ent")
    spans = displacy.render(sdoc, style="span", options={"spans_key": "quotes"})
    assert "direct" in spans and "mixed" in spans


@needs_spacy
def test_a_spacy_pipeline_runs_on_the_doc_and_keeps_newstags_spans(gold_docs):
    import spacy

    from newstag.formats.spacy import to_spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    sdoc = to_spacy(gold_docs[0], nlp)  # tokenized by nlp; its components run after
    for _, component in nlp.pipeline:
        sdoc = component(sdoc)
    assert len(list(sdoc.sents)) > 3 and len(sdoc.ents) == len(gold_docs[0].entities)
    assert len(sdoc.spans["quotes"]) == len(gold_docs[0].quotes)


@needs_spacy
def test_a_docbin_keeps_entities_quotes_and_their_attributes(gold_docs, tmp_path):
    import spacy
    from spacy.tokens import DocBin

    from newstag.formats.spacy import write_docbin

    assert write_docbin(gold_docs, tmp_path / "docs.spacy") == len(gold_docs)
    back = list(DocBin().from_disk(tmp_path / "docs.spacy").get_docs(spacy.blank("en").vocab))
    assert [d._.id for d in back] == [d.id for d in gold_docs]
    for sdoc, doc in zip(back, gold_docs):
        assert [(e.start_char, e.end_char, e.label_) for e in sdoc.ents] == [(e.start, e.end, e.label) for e in doc.entities]
        assert [(q.start_char, q.end_char, q._.kind, tuple(q._.speaker) if q._.speaker else None)
                for q in sdoc.spans["quotes"]] == [(q.start, q.end, q.kind, offsets(q.speaker)) for q in doc.quotes]


@needs_spacy
def test_predict_writes_a_docbin_of_its_predictions(tiny_model, tmp_path):
    import spacy
    from spacy.tokens import DocBin

    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps({"id": f"a{i}", "text": f"“We stay,” Ana Ruiz said in Lima {i}."}) + "\n"
                            for i in range(3)))
    out = tmp_path / "out.spacy"
    result = runner.invoke(app, ["predict", "--model", str(tiny_model), str(path), "-o", str(out), "--format", "spacy"])
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "out.spacy.partial").exists() and not (tmp_path / "out.spacy.partial.progress").exists()
    docs = list(DocBin().from_disk(out).get_docs(spacy.blank("en").vocab))
    assert [d._.id for d in docs] == ["a0", "a1", "a2"] and docs[0].text == "“We stay,” Ana Ruiz said in Lima 0."


def test_format_spacy_to_stdout_is_a_usage_error_in_one_line(tiny_model, tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps({"id": "a", "text": "Lima."}) + "\n")
    result = runner.invoke(app, ["predict", "--model", str(tiny_model), str(path), "--format", "spacy"])
    assert result.exit_code == 2 and "--output" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_format_spacy_without_spacy_installed_says_how_to_install_it(tiny_model, tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "spacy" else real(name, *a))
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps({"id": "a", "text": "Lima."}) + "\n")
    result = runner.invoke(app, ["predict", "--model", str(tiny_model), str(path), "-o", str(tmp_path / "o.spacy"),
                                 "--format", "spacy"])
    assert result.exit_code == 2 and "pip install 'newstag[spacy]'" in result.stderr and "Traceback" not in result.output


@needs_spacy
def test_an_article_longer_than_spacys_max_length_is_taken_whole():
    from newstag.formats.spacy import to_spacy

    text = "Ana Ruiz spoke in Lima. " * 50_000  # 1.2 M characters; spaCy's parser limit is 1 M
    lima = text.rindex("Lima")
    sdoc = to_spacy(Document(id="long", text=text, entities=[Entity(start=lima, end=lima + 4, label="LOC")]))
    assert sdoc.text == text
    assert [(e.text, e.start_char) for e in sdoc.ents] == [("Lima", lima)]
