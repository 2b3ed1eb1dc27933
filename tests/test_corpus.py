"""data/newswire: reproducible from its markup, clean under the validator, and as large
and as hard as its data card says."""
from pathlib import Path

import pytest

from newstag.corpus.check import check_files, corpus_stats
from newstag.document import read_jsonl
from newstag.corpus.build import build_corpus, read_stories

DATA = Path(__file__).resolve().parents[1] / "data" / "newswire"
SPLITS = [str(DATA / f"{s}.jsonl") for s in ("train", "dev", "test")]


@pytest.fixture(scope="module")
def checked():
    return check_files(SPLITS, ["PER", "ORG", "LOC", "MISC"])


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build_corpus(DATA / "src", tmp_path_factory.mktemp("built"))


def test_the_committed_splits_are_what_the_markup_builds(built):
    for split, docs in built.items():
        assert read_jsonl(DATA / f"{split}.jsonl") == docs, f"{split}.jsonl is stale: run `newstag data build`"


def test_the_validator_finds_nothing(checked):
    problems, _ = checked
    assert problems == []


def test_the_corpus_is_as_large_and_as_hard_as_promised(checked):
    _, docs_by_file = checked
    stats = corpus_stats(docs_by_file).values()
    total = lambda key: sum(s[key] for s in stats)  # noqa: E731
    case = lambda name: sum(s["hard_cases"].get(name, 0) for s in stats)  # noqa: E731
    assert total("documents") >= 300
    assert total("entity_mentions") >= 8000
    assert total("quotes") >= 1500
    not_direct = sum(s["quote_kinds"].get("indirect", 0) + s["quote_kinds"].get("mixed", 0) for s in stats)
    assert not_direct >= 0.4 * total("quotes")
    assert case("speaker outside the quote's sentence") >= 200
    assert case("pronoun or description speaker") >= 100


def test_splits_are_about_80_10_10_and_share_no_topic_gaps(checked):
    _, docs_by_file = checked
    sizes = [len(docs_by_file[p]) for p in SPLITS]
    assert 0.75 <= sizes[0] / sum(sizes) <= 0.85
    topics = [{d.meta["topic"] for d in docs_by_file[p]} for p in SPLITS]
    assert topics[1] == topics[2] == topics[0], "every topic is in every split"


def test_no_story_is_in_two_splits(built):
    story = read_stories(DATA / "stories.tsv")
    assert story, "data/newswire/stories.tsv is missing: run `python data/tools/stories.py`"
    split_of = {}
    for split, docs in built.items():
        for d in docs:
            split_of.setdefault(story.get(d.id, d.id), set()).add(split)
    crossing = {s: sorted(where) for s, where in split_of.items() if len(where) > 1}
    assert crossing == {}, f"stories cut across splits: {crossing}"


def test_a_transcript_answer_after_its_speaker_label_needs_no_quotation_marks():
    from newstag.corpus.check import check_document
    from newstag.corpus.markup import compile_article

    transcript = compile_article("x", "<s1>MINISTER {PER ANA RUIZ}</s1><c1>:</c1> <q1 direct>We will not sell the port.</q1>")
    unmarked = compile_article("y", "<s1>{PER Ana Ruiz}</s1> <c1>said</c1> <q1 direct>we will not sell the port.</q1>")
    labels = {"PER", "ORG", "LOC", "MISC"}
    assert check_document(transcript, labels) == []
    assert any("does not start with a quotation mark" in p for p in check_document(unmarked, labels))
