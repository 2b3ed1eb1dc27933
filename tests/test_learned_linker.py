"""The learned linker learns the gold links, and travels with the model."""
from newstag.inference import Tagger, load_linker
from newstag.learned_linker import LearnedLinker, word_class
from newstag.linking import relink

from conftest import tiny_config


def spans_of(docs):
    return [[(q.start, q.end, q.speaker and (q.speaker.start, q.speaker.end),
              q.speaker_entity and (q.speaker_entity.start, q.speaker_entity.end)) for q in d.quotes] for d in docs]


def test_it_reproduces_the_gold_links_it_was_trained_on(gold_docs):
    linker = LearnedLinker()
    stats = linker.fit(gold_docs, epochs=200)
    assert stats["speaker_examples"] == sum(len(d.quotes) for d in gold_docs)
    predicted = [relink(d, linker) for d in gold_docs]
    assert spans_of(predicted) == spans_of(gold_docs)


def test_speaker_words_are_classed():
    he, which, desc = word_class("he"), word_class("which"), word_class("the ministry")
    assert he[0] == 1 and which[3] == 1 and desc[4] == 1 and desc[6] == 1


def test_the_trained_linker_is_saved_and_loaded_with_the_model(tmp_path, corpus_files):
    from newstag.config import load_config
    from newstag.training import train

    out = tmp_path / "m"
    train(load_config(tiny_config(corpus_files, epochs=1), ["model.linker=learned"]), out, progress=False, log=lambda m: None)
    assert (out / "linker.safetensors").is_file()
    tagger = Tagger.load(out, device="cpu")
    assert isinstance(tagger.linker, LearnedLinker)
    assert Tagger.load(out, device="cpu", linker="rule").linker is load_linker("rule")
    doc = tagger("“We stay,” said Ana Ruiz. She added that talks would go on.")
    for _, span in doc.spans():
        assert doc.text[span.start:span.end] == span.text
