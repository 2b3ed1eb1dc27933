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
    assert total("documents") >= 500
    assert total("entity_mentions") >= 8000
    assert total("quotes") >= 1500
    not_direct = sum(s["quote_kinds"].get("indirect", 0) + s["quote_kinds"].get("mixed", 0) for s in stats)
    assert not_direct >= 0.4 * total("quotes")
    assert case("speaker outside the quote's sentence") >= 200
    assert case("pronoun or description speaker") >= 100


def test_the_corpus_has_the_rates_real_news_has(checked):
    """v2's promise (data/README.md): real-news rates, not one of each device per article."""
    _, docs_by_file = checked
    docs = [d for docs in docs_by_file.values() for d in docs]
    quotes = [q for d in docs for q in d.quotes]
    cues = [q.cue.text.lower() for q in quotes if q.cue]
    lengths = [len(d.text.split()) for d in docs]
    assert 0.10 <= sum(not d.quotes for d in docs) / len(docs) <= 0.20
    assert min(lengths) <= 100 and max(lengths) >= 2000
    assert cues.count("according to") <= 0.03 * len(cues)
    assert sum(q.speaker is None for q in quotes) >= 0.05 * len(quotes)
    assert sum(len(q.text.split()) > 40 for q in quotes) >= 0.05 * len(quotes)


def test_dev_is_about_a_tenth_of_the_training_pool_and_has_every_topic(checked):
    _, docs_by_file = checked
    train, dev = (docs_by_file[p] for p in SPLITS[:2])
    assert 0.08 <= len(dev) / (len(train) + len(dev)) <= 0.12
    assert {d.meta["topic"] for d in dev} == {d.meta["topic"] for d in train}


# The test split is written from its own brief (other desks, forms and habits than
# train) and frozen: nobody tunes on it. Changing a file here is a decision to record in
# data/README.md, not a fix.
FROZEN_TEST_SPLIT = {
    "t1-markets-briefs.txt": "b3b7a6bb1a4c5ccc27a5d4bd71110aa222f885fea1cc22c63d303f0213e7497c",
    "t2-courts.txt": "1fb47ac7d484e70ad43543052ce11d4cf83b6bb45734a33a78f14bfa132c039b",
    "t3-politics-live.txt": "b74e7867b67c53c887554c2d7534a54cd3c27e9e89961e09f7bd21791c270f28",
    "t4-features.txt": "447e2de25b120aa972e429d61ba321a47da6a12c1c7b205fd46f80e38ea66739",
    "t5-local.txt": "d3b1dbf703fdc00c6e44fb5f77eb429aff2a8d6529a64264fb6ab1ad6bbe4e1a",
    "t6-world.txt": "6884fdbe8289b595d3bd354766a1bd70e8d41da5415c40f21533b28edafd6593",
}


def test_the_test_split_is_frozen_and_at_least_120_articles(checked):
    import hashlib

    files = sorted((DATA / "test-src").glob("*.txt"))
    assert {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in files} == FROZEN_TEST_SPLIT
    _, docs_by_file = checked
    assert len(docs_by_file[SPLITS[2]]) >= 120


def test_no_invented_person_is_in_both_the_test_split_and_the_training_pool(checked):
    _, docs_by_file = checked
    full_names = lambda docs: {e.text for d in docs for e in d.entities if e.label == "PER" and " " in e.text}  # noqa: E731
    pool = full_names(docs_by_file[SPLITS[0]] + docs_by_file[SPLITS[1]])
    assert full_names(docs_by_file[SPLITS[2]]) & pool == set()


def test_no_surname_of_an_invented_person_is_in_both_the_test_split_and_the_training_pool(checked):
    """People are mostly named by surname alone ("Penhaligon said"): a surname learnt in
    train and met again in test, even on another person, is leakage."""
    _, docs_by_file = checked
    surnames = lambda docs: {e.text.split()[-1] for d in docs for e in d.entities if e.label == "PER" and len(e.text.split()) >= 2}  # noqa: E731
    pool = surnames(docs_by_file[SPLITS[0]] + docs_by_file[SPLITS[1]])
    assert sorted(surnames(docs_by_file[SPLITS[2]]) & pool) == []


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
