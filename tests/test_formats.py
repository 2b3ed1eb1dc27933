"""What the format readers promise. Every test writes its own small files: the reference
corpora in ../shared are copyrighted and never feed the test suite."""
from __future__ import annotations

import json

import pytest

from newstag.document import Document, Entity, FormatError, Quote, Span
from newstag.formats import (
    load_corpus,
    read_brat,
    read_conll,
    read_hf_dataset,
    read_label_studio,
    tokens_to_document,
    write_label_studio,
)
from newstag.quotemarks import infer_quote_kind


def conll(tmp_path, body: str, name: str = "sample.txt"):
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


def mentions(doc: Document) -> list[tuple[str, str]]:
    return [(doc.text[e.start:e.end], e.label) for e in doc.entities]


# ----------------------------------------------------------------------------- CoNLL

IOB1 = """\
Yesterday O
Ana I-PER
Kovač I-PER
Marek B-PER
and O
the O
Port I-ORG
Authority I-ORG
met O
in O
Setúbal I-LOC
. O
"""

IOB2 = """\
Yesterday O
Ana B-PER
Kovač I-PER
Marek B-PER
and O
the O
Port B-ORG
Authority I-ORG
met O
in O
Setúbal B-LOC
. O
"""


def test_iob1_and_iob2_give_the_same_spans(tmp_path):
    (iob1,) = read_conll(conll(tmp_path, IOB1, "iob1.txt"))
    (iob2,) = read_conll(conll(tmp_path, IOB2, "iob2.txt"))
    assert iob1.entities == iob2.entities
    # B- between two adjacent PER entities splits them in IOB1.
    assert mentions(iob1) == [("Ana Kovač", "PER"), ("Marek", "PER"), ("Port Authority", "ORG"), ("Setúbal", "LOC")]


def test_tokens_join_with_spaces_and_sentences_with_newlines_offsets_exact(tmp_path):
    body = "Żaneta B-PER\nÖzdemir I-PER\nflew O\n\nto O\nZürich B-LOC\n🚢 O\nAl-Shifa B-ORG\n. O\n"
    (doc,) = read_conll(conll(tmp_path, body))
    assert doc.text == "Żaneta Özdemir flew\nto Zürich 🚢 Al-Shifa ."
    assert mentions(doc) == [("Żaneta Özdemir", "PER"), ("Zürich", "LOC"), ("Al-Shifa", "ORG")]
    assert all(doc.text[e.start:e.end] == e.text for e in doc.entities)
    assert doc.meta["sentences"] == [[0, 19], [20, len(doc.text)]]
    assert doc.layers == ["entities"]


def test_docstart_splits_documents_and_ids_count_from_one(tmp_path):
    body = "-DOCSTART- -X- -X- O\n\nRome NNP B-NP B-LOC\n\n-DOCSTART- -X- -X- O\n\nOslo NNP B-NP B-LOC\nwins VBZ B-VP O\n\n"
    docs = read_conll(conll(tmp_path, body, "news.conll"))
    assert [d.id for d in docs] == ["news.conll#1", "news.conll#2"]
    assert [d.text for d in docs] == ["Rome", "Oslo wins"]


def test_a_file_without_docstart_is_cut_every_100_sentences(tmp_path):
    body = "".join(f"Sentence O\n{i} O\n\n" for i in range(250))
    docs = read_conll(conll(tmp_path, body))
    assert [len(d.meta["sentences"]) for d in docs] == [100, 100, 50]
    assert docs[2].text.startswith("Sentence 200\n")


def test_tabs_tag_column_and_label_map(tmp_path):
    body = "Ana\tB-PERSON\tx\nvisited\tO\tx\nthe\tO\tx\nWorld\tB-EVENT\tx\nCup\tI-EVENT\tx\n"
    (doc,) = read_conll(conll(tmp_path, body), tag_column=1, label_map={"PERSON": "PER", "EVENT": None})
    assert mentions(doc) == [("Ana", "PER")]


def test_a_bad_tag_names_file_line_and_field(tmp_path):
    path = conll(tmp_path, "Ana B-PER\n\nsaid X-PER\n")
    with pytest.raises(FormatError) as err:
        read_conll(path)
    assert (err.value.path, err.value.line, err.value.field) == (str(path), 3, "tags[0]")
    assert "X-PER" in str(err.value)


def test_a_line_without_the_tag_column_names_file_and_line(tmp_path):
    path = conll(tmp_path, "Ana NNP B-PER\nsaid\n")
    with pytest.raises(FormatError) as err:
        read_conll(path)
    assert (err.value.path, err.value.line) == (str(path), 2)


def test_tokens_to_document_is_shared_by_token_readers():
    doc = tokens_to_document("d#1", [["New", "York"], ["Hi"]], [["I-LOC", "I-LOC"], ["O"]], None)
    assert doc.text == "New York\nHi"
    assert mentions(doc) == [("New York", "LOC")]


# ----------------------------------------------------------------------------- brat

def offsets(text: str, piece: str, after: int = 0) -> str:
    start = text.index(piece, after)
    return f"{start} {start + len(piece)}"


def brat_line(tid: str, kind: str, text: str, *pieces: str) -> str:
    """A text-bound line; several pieces make a discontinuous span."""
    return f"{tid}\t{kind} {';'.join(offsets(text, p) for p in pieces)}\t{' '.join(pieces)}"


SPLIT = "“We will not go back,” said union leader Ana Kovač. “Not one ship.”\n"


def write_article(folder, stem: str, text: str, ann_lines: list[str], ann_stem: str | None = None):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{stem}.txt").write_text(text, encoding="utf-8", newline="")
    (folder / f"{ann_stem or stem}.ann").write_text("\n".join(ann_lines) + "\n", encoding="utf-8")


def test_discontinuous_content_becomes_two_quotes_with_one_speaker(tmp_path):
    write_article(tmp_path, "a1", SPLIT, [
        brat_line("T1", "Source", SPLIT, "union leader Ana Kovač"),
        brat_line("T2", "Cue", SPLIT, "said"),
        brat_line("T3", "Content", SPLIT, "“We will not go back,”", "“Not one ship.”"),
        brat_line("T4", "Attribution", SPLIT, "said"),
        "E1\tAttribution:T4 Content:T3 Cue:T2 Source:T1",
    ])
    (doc,) = read_brat(tmp_path)
    assert doc.id == "a1" and doc.layers == ["quotes"]
    assert [q.text for q in doc.quotes] == ["“We will not go back,”", "“Not one ship.”"]
    assert {q.speaker.text for q in doc.quotes} == {"union leader Ana Kovač"}
    assert {q.cue.text for q in doc.quotes} == {"said"}
    assert [q.kind for q in doc.quotes] == ["direct", "direct"]


def test_content2_and_an_event_without_source(tmp_path):
    text = "Talks will resume, the ministry said, and a deal is near.\n"
    write_article(tmp_path, "a2", text, [
        brat_line("T1", "Content", text, "Talks will resume"),
        brat_line("T2", "Cue", text, "said"),
        brat_line("T3", "Content", text, "a deal is near"),
        brat_line("T4", "Attribution", text, "said"),
        "E1\tAttribution-no-source:T4 Cue:T2 Content:T1 Content2:T3",
    ])
    (doc,) = read_brat(tmp_path)
    assert [(q.text, q.kind, q.speaker) for q in doc.quotes] == [
        ("Talks will resume", "indirect", None), ("a deal is near", "indirect", None)]


def test_fragments_are_stripped_and_punctuation_only_fragments_dropped(tmp_path):
    text = "She said  that prices rose . \n"
    start = text.index("  that")
    write_article(tmp_path, "a3", text, [
        f"T1\tContent {start} {start + 19};{start + 19} {start + 21}\t{text[start:start + 19]} {text[start + 19:start + 21]}",
        "E1\tAttribution-no-source:T1 Content:T1",
    ])
    (doc,) = read_brat(tmp_path)
    assert [q.text for q in doc.quotes] == ["that prices rose"]


def test_several_annotators_one_deterministic_choice(tmp_path):
    """PolNeAR layout: the file with the most attributions wins, ties to the smaller name."""
    text = "Oduya said talks failed. Kovač said the port is shut.\n"
    one = [brat_line("T1", "Source", text, "Oduya"), brat_line("T2", "Cue", text, "said"),
           brat_line("T3", "Content", text, "talks failed"), "E1\tAttribution:T2 Source:T1 Cue:T2 Content:T3"]
    two = one + [brat_line("T4", "Source", text, "Kovač"),
                 f"T5\tCue {offsets(text, 'said', text.index('Kovač'))}\tsaid",
                 brat_line("T6", "Content", text, "the port is shut"), "E2\tAttribution:T5 Source:T4 Cue:T5 Content:T6"]
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "art.txt").write_text(text, encoding="utf-8")
    (tmp_path / "attributions").mkdir()
    for annotator, lines in [("aa01", one), ("cc03", two), ("bb02", two)]:
        (tmp_path / "attributions" / f"art_{annotator}.ann").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (doc,) = read_brat(tmp_path)
    assert doc.meta["annotation_file"] == "art_bb02.ann"
    assert doc.meta["annotation_files"] == ["art_aa01.ann", "art_bb02.ann", "art_cc03.ann"]
    assert [q.speaker.text for q in doc.quotes] == ["Oduya", "Kovač"]


def test_a_span_text_with_a_line_break_continues_on_the_next_lines(tmp_path):
    """brat writes a span's newlines as they are, so its text runs over several .ann lines."""
    text = "Headline\n\nThe mayor said the bridge\n\nwill reopen.\n"
    content = "the bridge\n\nwill reopen"
    write_article(tmp_path, "a4", text, [
        f"T1\tContent {offsets(text, content)}\t{content}",
        brat_line("T2", "Cue", text, "said"),
        "E1\tAttribution-no-source:T2 Content:T1 Cue:T2",
    ])
    (doc,) = read_brat(tmp_path)
    assert [q.text for q in doc.quotes] == [content]


def test_text_offsets_count_carriage_returns(tmp_path):
    text = "Intro.\r\nOduya said prices rose.\r\n"
    write_article(tmp_path, "a5", text, [brat_line("T1", "Content", text, "prices rose"),
                                         "E1\tAttribution-no-source:T1 Content:T1"])
    (doc,) = read_brat(tmp_path)
    assert doc.quotes[0].text == "prices rose"


def test_a_bad_offset_names_file_and_line(tmp_path):
    text = "Oduya said talks failed.\n"
    write_article(tmp_path, "a6", text, [brat_line("T1", "Source", text, "Oduya"), "T2\tCue 6 999\tsaid"])
    with pytest.raises(FormatError) as err:
        read_brat(tmp_path)
    assert (err.value.path, err.value.line, err.value.field) == (str(tmp_path / "a6.ann"), 2, "T2.offsets")


def test_a_span_text_that_does_not_match_its_offsets_is_an_error(tmp_path):
    text = "Oduya said talks failed.\n"
    write_article(tmp_path, "a7", text, ["T1\tSource 0 5\tKovač"])
    with pytest.raises(FormatError) as err:
        read_brat(tmp_path)
    assert (err.value.line, err.value.field) == (1, "T1.text")
    assert "a7.ann:1:" in str(err.value)


@pytest.mark.parametrize("content, kind", [
    ("“We will stay,”", "direct"),
    ('"Not one ship."', "direct"),
    ("“Not one ship”.", "direct"),
    ("“We will stay, we will not move,", "direct"),  # first half of a quote split by its cue
    ("and we will win.”", "direct"),                  # its second half
    ("that the offer was “an insult”", "mixed"),
    ('that it would take "more hours” to know', "mixed"),
    ("that the union's 'final' offer stood", "mixed"),
    ("that the union's offer and the workers' pay were fair", "indirect"),
    ("Talks will resume on Friday", "indirect"),
    ("''We will stay,''", "direct"),  # archive and treebank text
    ("``Not one ship.''", "direct"),
])
def test_quote_kind_is_read_off_quotation_marks(content, kind):
    assert infer_quote_kind(content) == kind


# ----------------------------------------------------------------------------- Label Studio

def sample_documents() -> list[Document]:
    text = "“We will not go back,” union leader Ana Kovač told reporters. “Not one ship.” She said talks had failed."
    def at(piece, after=0):
        start = text.index(piece, after)
        return {"start": start, "end": start + len(piece)}
    speaker, cue = Span(**at("union leader Ana Kovač")), Span(**at("told"))
    kovac = Span(**at("Ana Kovač"))
    return [
        Document(
            id="nw-0001", text=text, meta={"topic": "labour"},
            entities=[Entity(**at("Ana Kovač"), label="PER", score=0.97)],
            quotes=[
                Quote(**at("“We will not go back,”"), kind="direct", cue=cue, speaker=speaker,
                      speaker_entity=kovac, score=0.9),
                Quote(**at("“Not one ship.”"), kind="direct", cue=cue, speaker=speaker,
                      speaker_entity=kovac, score=0.8),
                # The referent is no entity of the document: it becomes a REFERENT region.
                Quote(**at("talks had failed"), kind="indirect", cue=Span(**at("said")), speaker=Span(**at("She")),
                      speaker_entity=Span(**at("union leader"))),
            ],
        ),
        Document(id="nw-0002", text="Nothing said here.", layers=["entities"]),
    ]


def test_label_studio_round_trip(tmp_path):
    docs = sample_documents()
    path = tmp_path / "tasks.json"
    assert write_label_studio(docs, path) == 2
    assert read_label_studio(path) == docs


def test_written_tasks_are_predictions_with_scores(tmp_path):
    path = tmp_path / "tasks.json"
    write_label_studio(sample_documents()[:1], path)
    (task,) = json.loads(path.read_text(encoding="utf-8"))
    (prediction,) = task["predictions"]
    assert "annotations" not in task and prediction["score"] == 0.8
    regions = [r for r in prediction["result"] if r["type"] == "labels"]
    assert [r["value"]["labels"] for r in regions if r["value"]["labels"][0] == "SPEAKER"] == [["SPEAKER"], ["SPEAKER"]]
    assert all(r["value"]["text"] == task["data"]["text"][r["value"]["start"]:r["value"]["end"]] for r in regions)


def ls_region(rid, text, piece, labels, after=0):
    start = text.index(piece, after)
    return {"id": rid, "from_name": "label", "to_name": "text", "type": "labels",
            "value": {"start": start, "end": start + len(piece), "text": piece, "labels": labels}}


def test_label_studio_annotations_choices_and_relations_either_way(tmp_path):
    text = "Kovač said that the offer was “an insult”. Prices rose, Oduya claimed."
    result = [
        ls_region("a", text, "Kovač", ["SPEAKER", "PER"]),
        ls_region("b", text, "said", ["CUE"]),
        ls_region("c", text, "that the offer was “an insult”", ["QUOTE"]),
        {"id": "c", "from_name": "kind", "to_name": "text", "type": "choices", "value": {"choices": ["mixed"]}},
        ls_region("d", text, "Prices rose", ["QUOTE"]),
        ls_region("e", text, "Oduya", ["SPEAKER"]),
        {"type": "relation", "from_id": "c", "to_id": "a", "direction": "right", "labels": []},
        {"type": "relation", "from_id": "b", "to_id": "c", "direction": "right", "labels": []},  # cue -> quote
        {"type": "relation", "from_id": "e", "to_id": "d", "direction": "left", "labels": []},
    ]
    tasks = [{"id": 7, "data": {"text": text},
              "annotations": [{"was_cancelled": True, "result": []}, {"result": result}],
              "predictions": []},
             {"id": 8, "data": {"text": "Never annotated."}}]
    path = tmp_path / "export.json"
    path.write_text(json.dumps(tasks, ensure_ascii=False, indent=2), encoding="utf-8")
    (doc,) = read_label_studio(path)
    assert doc.id == "7" and doc.layers == ["entities", "quotes"]
    assert mentions(doc) == [("Kovač", "PER")]
    assert [(q.text, q.kind, q.speaker.text, q.cue and q.cue.text) for q in doc.quotes] == [
        ("that the offer was “an insult”", "mixed", "Kovač", "said"),
        ("Prices rose", "indirect", "Oduya", None),
    ]


def test_label_studio_utf16_offsets_after_an_emoji_are_converted(tmp_path):
    text = "🚢 Kovač said so."
    region = ls_region("a", text, "Kovač", ["PER"])
    region["value"]["start"] += 1  # what Label Studio < 1.6 wrote: the emoji counts twice
    region["value"]["end"] += 1
    path = tmp_path / "old.json"
    path.write_text(json.dumps([{"id": 1, "data": {"text": text}, "annotations": [{"result": [region]}]}]), encoding="utf-8")
    (doc,) = read_label_studio(path)
    assert mentions(doc) == [("Kovač", "PER")]


def test_a_label_studio_region_whose_text_does_not_match_names_file_line_field(tmp_path):
    text = "Kovač said so."
    region = ls_region("a", text, "Kovač", ["PER"])
    region["value"]["text"] = "Oduya"
    tasks = [{"id": 1, "data": {"text": "Fine."}, "annotations": [{"result": []}]},
             {"id": 2, "data": {"text": text}, "annotations": [{"result": [region]}]}]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(tasks, indent=2), encoding="utf-8")
    with pytest.raises(FormatError) as err:
        read_label_studio(path)
    second_task_line = path.read_text().splitlines().index("  {", 2) + 1
    assert (err.value.path, err.value.line) == (str(path), second_task_line)
    assert err.value.field == "tasks[1].annotations[0].result[0].value"


def test_a_quote_linked_straight_to_an_entity_is_an_error(tmp_path):
    text = "Kovač said prices rose."
    result = [ls_region("a", text, "Kovač", ["PER"]), ls_region("b", text, "prices rose", ["QUOTE"]),
              {"type": "relation", "from_id": "b", "to_id": "a", "direction": "right", "labels": []}]
    path = tmp_path / "export.json"
    path.write_text(json.dumps([{"id": 1, "data": {"text": text}, "annotations": [{"result": result}]}]), encoding="utf-8")
    with pytest.raises(FormatError, match="relation between QUOTE and None") as err:
        read_label_studio(path)
    assert err.value.field == "tasks[0].annotations[0].result[2]"


# ----------------------------------------------------------------------------- Hugging Face

def saved_dataset(tmp_path, as_dict=False):
    datasets = pytest.importorskip("datasets")
    features = datasets.Features({
        "tokens": datasets.Sequence(datasets.Value("string")),
        "ner_tags": datasets.Sequence(datasets.ClassLabel(names=["O", "B-PER", "I-PER", "B-LOC", "I-LOC"])),
    })
    data = datasets.Dataset.from_dict(
        {"tokens": [["Ana", "Kovač", "left", "Setúbal"], ["Nothing", "here"]], "ner_tags": [[1, 2, 0, 3], [0, 0]]},
        features=features,
    )
    path = tmp_path / "ner"
    (datasets.DatasetDict({"validation": data}) if as_dict else data).save_to_disk(str(path))
    return path


def test_hf_dataset_from_disk_maps_tag_ids_through_class_labels(tmp_path):
    path = saved_dataset(tmp_path)
    docs = read_hf_dataset(path)
    assert [d.id for d in docs] == ["ner#0", "ner#1"]
    assert docs[0].text == "Ana Kovač left Setúbal"
    assert mentions(docs[0]) == [("Ana Kovač", "PER"), ("Setúbal", "LOC")]
    assert docs[1].entities == []


def test_hf_dataset_dict_split_and_label_names(tmp_path):
    path = saved_dataset(tmp_path, as_dict=True)
    names = ["O", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]
    docs = read_hf_dataset(path, split="validation", label_names=names)
    assert docs[0].id == "ner:validation#0"
    assert mentions(docs[0]) == [("Ana Kovač", "ORG"), ("Setúbal", "LOC")]
    with pytest.raises(FormatError) as err:
        read_hf_dataset(path, split="train")
    assert err.value.field == "split"


# ----------------------------------------------------------------------------- dispatcher

def test_load_corpus_dispatches_by_format(tmp_path):
    path = conll(tmp_path, IOB2)
    assert load_corpus("conll", path) == read_conll(path)
    jsonl = tmp_path / "docs.jsonl"
    jsonl.write_text(read_conll(path)[0].to_json() + "\n", encoding="utf-8")
    assert load_corpus("jsonl", jsonl) == read_conll(path)
    with pytest.raises(ValueError, match="unknown format 'xml'"):
        load_corpus("xml", path)
