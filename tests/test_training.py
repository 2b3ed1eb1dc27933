"""A tiny model trains, its loss falls, and it reloads and predicts valid offsets."""
import json
from pathlib import Path

from newstag.config import load_config
from newstag.tagger import Tagger
from newstag.training import bucketed, epoch_order, train

from conftest import tiny_config


def test_every_shipped_config_is_valid():
    configs = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))
    assert configs
    for path in configs:
        load_config(path)  # raises, naming the file and key, on a typo


def test_training_lowers_the_loss_and_saves_a_loadable_model(tmp_path, corpus_files):
    out = tmp_path / "model"
    summary = train(load_config(tiny_config(corpus_files, epochs=6, batch_size=4)), out, progress=False, log=lambda m: None)
    records = [json.loads(l) for l in (out / "metrics.jsonl").read_text().splitlines()]
    epochs = [r for r in records if r["event"] == "epoch"]
    assert len(epochs) == 6 and "dev" in epochs[0]
    assert epochs[-1]["loss"] < 0.7 * epochs[0]["loss"]
    assert summary["train_tokens_per_second"] > 0
    assert (out / "config.json").is_file() and (out / "dev_report.json").is_file()
    # The decoding prior is counted from the training labels and travels with the model.
    tagger = Tagger.load(out, device="cpu")
    quote_prior = tagger.model.transition_scores("quotes")
    quote_tags = tagger.model.tags["quotes"]
    assert quote_prior.shape == (len(quote_tags),) * 2
    b_cue, i_cue = quote_tags.index("B-CUE"), quote_tags.index("I-CUE")
    assert quote_prior[b_cue, b_cue] < quote_prior[b_cue, i_cue] < 0


def test_a_config_with_a_context_lstm_trains_and_predicts_with_it(tmp_path, corpus_files):
    out = tmp_path / "lstm"
    config = load_config(tiny_config(corpus_files, epochs=1), ["model.context_lstm=4", "model.crf=true"])
    train(config, out, progress=False, log=lambda m: None)
    tagger = Tagger.load(out, device="cpu")
    assert tagger.model.context is not None and tagger.model.context.hidden_size == 4
    text = "“We hold,” said Olena Kovalenko in Kyiv."
    assert all(text[s.start:s.end] == s.text for _, s in tagger(text).spans())


def test_predictions_are_well_formed_on_unseen_text(tiny_model):
    tagger = Tagger.load(tiny_model, device="cpu")
    text = "  KYIV, March 3 – “We hold,” said Olena Kovalenko.\n\n\nShe added: «No retreat.» — Müller  "
    doc = tagger(text)
    assert doc.text == text
    for _, span in doc.spans():
        assert 0 <= span.start < span.end <= len(text) and text[span.start:span.end] == span.text
    for q in doc.quotes:
        assert q.kind in ("direct", "indirect", "mixed") and 0 <= q.score <= 1


def test_pipe_keeps_input_order_and_ids(tiny_model, gold_docs):
    tagger = Tagger.load(tiny_model, device="cpu")
    out = list(tagger.pipe(gold_docs, batch_size=3))
    assert [d.id for d in out] == [d.id for d in gold_docs]
    assert [d.text for d in out] == [d.text for d in gold_docs]


def test_an_article_far_longer_than_a_window_is_tagged_whole(tiny_model):
    tagger = Tagger.load(tiny_model, device="cpu")
    text = "\n\n".join(f"“Point {i} stands,” Ana Ruiz said in Lima." for i in range(60))
    doc = tagger(text)
    assert doc.text == text
    assert tagger.spec.window_length * 10 < len(text.split()) * 2


def test_corpus_weights_set_each_corpus_share_of_an_epoch():
    import random

    order = epoch_order([100, 10], [1.0, 3.0], random.Random(0))
    counts = [sum(1 for c, _ in order if c == k) for k in (0, 1)]
    assert counts == [100, 30]


def test_length_buckets_regroup_the_epoch_into_steps_of_similar_lengths_drawing_the_same_windows():
    import random

    lengths = [[random.Random(i).randrange(20, 257) for i in range(300)], [256] * 40]
    order = epoch_order([300, 40], [1.0, 2.0], random.Random(5))
    grouped = bucketed(order, lengths, batch_size=16, buckets=5, rng=random.Random(6))
    assert sorted(grouped) == sorted(order)  # the same windows, corpus weights included

    def padded(o):  # positions computed: each step pads to its longest window
        steps = [o[i:i + 16] for i in range(0, len(o), 16)]
        return sum(len(s) * max(lengths[c][r] for c, r in s) for s in steps)

    assert padded(grouped) < 0.9 * padded(order)
    short, last_run = len(order) % 16, len(order) % (16 * 5)
    assert short and set(grouped[-short:]) <= set(order[-last_run:])  # the one short step stays at the end
    assert bucketed(order, lengths, 16, 0, random.Random(6)) == order


def test_corpora_with_different_layers_train_one_model(tmp_path, corpus_files):
    """An entities-only CoNLL file and the two-layer fixture, mixed with weights in one config."""
    conll = tmp_path / "ents.conll"
    conll.write_text("-DOCSTART- O\n\nAna B-PER\nRuiz I-PER\nvisited O\nLima B-LOC\n. O\n\n"
                     "-DOCSTART- O\n\nThe O\nUN B-ORG\nmet O\nin O\nOslo B-LOC\n. O\n")
    path = tiny_config(tmp_path,
                       train=[{"name": "fixture", "path": str(corpus_files / "train.jsonl")},
                              {"name": "conll", "path": str(conll), "format": "conll", "weight": 2.0}],
                       dev=[{"name": "fixture", "path": str(corpus_files / "dev.jsonl")},
                            {"name": "conll", "path": str(conll), "format": "conll"}])
    out = tmp_path / "m"
    summary = train(load_config(path, ["training.epochs=1"]), out, progress=False, log=lambda m: None)
    assert set(summary["dev"]) == {"fixture", "conll"}
    assert "entity_f1" in summary["dev"]["conll"] and "speaker_f1" not in summary["dev"]["conll"]
    start = json.loads((out / "metrics.jsonl").read_text().splitlines()[0])
    assert start["train_documents"] == {"fixture": 4, "conll": 2}


def test_a_model_reports_only_the_layers_it_was_trained_on(tmp_path, gold_docs, tiny_model):
    """A quotes-only corpus (as PolNeAR is) leaves the entity head untrained: its output
    is noise, so the model emits no entities at all, and says which layers it has."""
    from newstag.document import write_jsonl

    quotes_only = [d.model_copy(update={"layers": ["quotes"], "entities": []}) for d in gold_docs]
    write_jsonl(quotes_only, tmp_path / "quotes.jsonl")
    corpus = [{"name": "quotes", "path": str(tmp_path / "quotes.jsonl")}]
    path = tiny_config(tmp_path, train=corpus, dev=corpus)
    out = tmp_path / "q"
    train(load_config(path, ["training.epochs=1"]), out, progress=False, log=lambda m: None)
    assert json.loads((out / "config.json").read_text())["annotated_layers"] == ["quotes"]
    text = "“We hold,” said Olena Kovalenko of the Kyiv City Council in Kyiv on Monday."
    doc = Tagger.load(out, device="cpu")(text)
    assert doc.layers == ["quotes"] and doc.entities == []
    # A model trained on both layers keeps both.
    both = Tagger.load(tiny_model, device="cpu")(text)
    assert both.layers == ["entities", "quotes"]


def test_the_encoder_and_the_fresh_layers_train_at_their_own_rates_and_only_weight_matrices_decay(
        tmp_path, corpus_files):
    config = load_config(tiny_config(corpus_files, epochs=1), ["model.crf=true", "model.context_lstm=4"])
    out = tmp_path / "m"
    train(config, out, progress=False, log=lambda m: None)
    model = Tagger.load(out, device="cpu").model
    optimizer = model.configure_optimizer(config.training)
    names = {id(p): n for n, p in model.named_parameters()}
    rate_of = {names[id(p)]: (g["lr"], g["weight_decay"]) for g in optimizer.param_groups for p in g["params"]}
    assert len(rate_of) == len(names), "every parameter is in exactly one group"
    lr_encoder, lr_head, decay = config.training.lr_encoder, config.training.lr_head, config.training.weight_decay
    assert rate_of["encoder.encoder.layer.0.attention.self.query.weight"] == (lr_encoder, decay)
    assert rate_of["encoder.encoder.layer.0.attention.self.query.bias"] == (lr_encoder, 0.0)
    assert rate_of["encoder.embeddings.LayerNorm.weight"] == (lr_encoder, 0.0)
    assert rate_of["heads.entities.weight"] == rate_of["context.weight_ih_l0"] == (lr_head, decay)
    assert rate_of["heads.entities.bias"] == (lr_head, 0.0)
    # The CRF transitions start at the counted prior: decay would pull them towards zero.
    assert rate_of["crfs.quotes.transitions"] == rate_of["shape_embedding.weight"] == (lr_head, 0.0)
