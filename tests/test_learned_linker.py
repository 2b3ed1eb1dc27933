"""The learned linker learns the gold links, and travels with the model."""
from newstag.linking import Mention, PredictedQuote, Predictions, relink
from newstag.linking.features import word_class
from newstag.linking.learned import LearnedLinker
from newstag.tagger import Tagger

from conftest import tiny_config


def spans_of(docs):
    return [[(q.start, q.end, q.cue and (q.cue.start, q.cue.end), q.speaker and (q.speaker.start, q.speaker.end),
              q.speaker_entity and (q.speaker_entity.start, q.speaker_entity.end)) for q in d.quotes] for d in docs]


def test_it_reproduces_the_gold_links_it_was_trained_on(gold_docs):
    linker = LearnedLinker()
    stats = linker.fit(gold_docs, epochs=200)
    assert stats["speaker_examples"] == sum(len(d.quotes) for d in gold_docs)
    predicted = [relink(d, linker) for d in gold_docs]
    assert spans_of(predicted) == spans_of(gold_docs)


def test_fitting_depends_on_the_data_and_seed_alone(gold_docs):
    import torch

    first = LearnedLinker()
    torch.manual_seed(1)
    second = LearnedLinker()  # made under another random state: its first weights differ
    first.fit(gold_docs, epochs=3, seed=5)
    second.fit(gold_docs, epochs=3, seed=5)
    for (name, a), (_, b) in zip(first.state_dict().items(), second.state_dict().items()):
        assert torch.equal(a, b), name


def test_speaker_words_are_classed():
    he, which, desc = word_class("he"), word_class("which"), word_class("the ministry")
    assert he["personal_pronoun"] == 1 and which["relative_thing"] == 1
    assert desc["description"] == 1 and desc["org_noun"] == 1


def test_the_trained_linker_is_saved_and_loaded_with_the_model(tmp_path, corpus_files):
    from newstag.config import load_config
    from newstag.training import train

    out = tmp_path / "m"
    train(load_config(tiny_config(corpus_files, epochs=1), ["model.linker=learned"]), out, progress=False, log=lambda m: None)
    assert (out / "linker.safetensors").is_file()
    tagger = Tagger.load(out, device="cpu")
    assert isinstance(tagger.linker, LearnedLinker)
    assert Tagger.load(out, device="cpu", linker="rule").linker.name == "rule"
    doc = tagger("“We stay,” said Ana Ruiz. She added that talks would go on.")
    for _, span in doc.spans():
        assert doc.text[span.start:span.end] == span.text


def tagger_spans_of(doc, shift_speakers=0, spurious_quote=None):
    """What a tagger might find in a gold document: its spans, speakers cut short by
    ``shift_speakers`` characters at the start, optionally one quote that is not in gold."""
    found = Predictions.of_gold(doc)
    for q in found.quotes:
        q.score = 0.9
    found.speakers = [Mention(s.start + shift_speakers, s.end, 0.8, "SPEAKER") for s in found.speakers]
    if spurious_quote:
        found.quotes.append(PredictedQuote(*spurious_quote, "indirect", 0.6))
    return found


def test_on_predicted_spans_a_candidate_that_overlaps_the_gold_speaker_is_right(gold_docs):
    from newstag.linking.examples import speaker_groups_from_predictions

    doc = gold_docs[0]  # t1: "union leader Inés Ñáñez" told reporters ...
    spurious = (doc.text.index("Valparaíso"), doc.text.index("Valparaíso") + 10)
    found = tagger_spans_of(doc, shift_speakers=2, spurious_quote=spurious)
    linker = LearnedLinker()
    groups = speaker_groups_from_predictions(linker, doc, found)
    # One group per predicted quote that finds a gold quote; the spurious one teaches nothing.
    assert len(groups) == len(doc.quotes)
    for rows, positive in groups:
        assert positive and 0 not in positive  # every gold quote here has a speaker, found though cut short


def test_a_linker_fitted_on_predicted_spans_learns_the_tagger_confidence(gold_docs):
    import pytest
    import torch

    linker = LearnedLinker()
    stats = linker.fit(gold_docs, predicted=[tagger_spans_of(d, shift_speakers=1) for d in gold_docs], epochs=50)
    assert stats["speaker_spans"] == "predicted" and stats["speaker_examples"] == sum(len(d.quotes) for d in gold_docs)
    assert bool(linker.uses_scores)
    assert not bool(LearnedLinker().uses_scores)  # fitted on gold spans, the confidence is not used
    with pytest.raises(ValueError, match="2 predictions for 4 documents"):
        LearnedLinker().fit(gold_docs, predicted=[tagger_spans_of(d) for d in gold_docs[:2]])
    assert torch.equal(linker.state_dict()["uses_scores"], torch.tensor(1.0))


def test_training_can_refit_the_linker_on_the_taggers_own_spans(tmp_path, corpus_files):
    from newstag.config import load_config
    from newstag.training import train

    out = tmp_path / "m"
    messages = []
    train(load_config(tiny_config(corpus_files, epochs=1), ["model.linker_spans=predicted"]), out, progress=False,
          log=messages.append)
    assert any("fitted on predicted spans" in m for m in messages)
    assert bool(LearnedLinker.load(out).uses_scores)
    assert (out / "dev_report.json").is_file()


def test_a_linker_saved_before_features_had_names_loads_and_links_the_same(tmp_path, gold_docs):
    """Its rows were fixed-width with "reserved" columns that were always 0: the loader
    drops those columns from the first layer, which changes no score."""
    import torch
    from safetensors.torch import save_file

    from newstag.linking.learned import UNNAMED_LAYOUT

    linker = LearnedLinker()
    linker.fit(gold_docs, epochs=50)
    state = {k: v.clone() for k, v in linker.state_dict().items()}
    for scorer, key in (("speaker", "speaker"), ("resolver", "resolve")):
        weight = state[f"{scorer}.net.0.weight"]
        old = torch.randn(weight.size(0), len(UNNAMED_LAYOUT[key]))  # what sat in the reserved columns is never read
        current = [n for n in UNNAMED_LAYOUT[key] if not n.startswith("reserved_")]
        old[:, [UNNAMED_LAYOUT[key].index(n) for n in current]] = weight
        state[f"{scorer}.net.0.weight"] = old
    save_file(state, str(tmp_path / "linker.safetensors"))  # no feature names: the old format
    loaded = LearnedLinker.load(tmp_path)
    assert spans_of([relink(d, loaded) for d in gold_docs]) == spans_of([relink(d, linker) for d in gold_docs])


def test_fitting_leaves_the_global_random_state_as_it_was(gold_docs):
    """The tagger's training draws dropout masks from the global state after the linker is
    fitted: fitting must not move it."""
    import torch

    # LearnedLinker() itself draws initial weights; fitting adds nothing to that.
    torch.manual_seed(7)
    LearnedLinker()
    after_init = torch.rand(3)
    torch.manual_seed(7)
    LearnedLinker().fit(gold_docs, epochs=2)
    assert torch.equal(torch.rand(3), after_init)


def test_in_one_endless_paragraph_a_quote_weighs_only_its_nearest_candidates():
    """Candidates come from three paragraphs before the quote and one after; a paragraph
    with no end (a transcript, a scraped page) would make every mention a candidate of
    every quote. The nearest CANDIDATES_BEFORE / _AFTER of each kind are kept, in text order."""
    import re

    from newstag.linking import learned
    from newstag.linking.features import Context
    from newstag.spanindex import SpanIndex

    sentence = "Ana Ruiz spoke. "
    text = sentence * 200 + "“We hold,” she said. " + sentence * 200
    at = len(sentence) * 200
    q = PredictedQuote(at, at + len("“We hold,”"), "direct")
    names = SpanIndex(Mention(m.start(), m.end(), 1.0, "PER") for m in re.finditer("Ana Ruiz", text))
    speakers = SpanIndex([Mention(at + 11, at + 14, 1.0, "SPEAKER")])
    ctx = Context.of(text, [Mention(at + 15, at + 19, 1.0, "CUE")], [q])
    candidates = LearnedLinker().speaker_candidates(ctx, q, speakers, names)
    picked = [c for c, is_speaker, _ in candidates if not is_speaker]
    assert len(picked) == learned.CANDIDATES_BEFORE + learned.CANDIDATES_AFTER
    assert picked == sorted(picked, key=lambda m: m.start)
    assert picked[learned.CANDIDATES_BEFORE - 1].end <= q.start < picked[learned.CANDIDATES_BEFORE].start
    assert text[picked[learned.CANDIDATES_BEFORE - 1].start:q.start] == "Ana Ruiz spoke. "
