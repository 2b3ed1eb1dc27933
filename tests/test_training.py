"""A tiny model trains, its loss falls, and it reloads and predicts valid offsets."""
import json
from pathlib import Path

from newstag.config import load_config
from newstag.inference import Tagger
from newstag.training import epoch_order, train

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
    quote_prior = tagger.model.transition_prior("quote")
    assert quote_prior.shape == (len(tagger.model.quote_tags),) * 2
    b_cue, i_cue = tagger.model.quote_tags.index("B-CUE"), tagger.model.quote_tags.index("I-CUE")
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
    assert tagger.config["max_length"] * 10 < len(text.split()) * 2


def test_word_vectors_come_with_the_same_scores_one_per_word(tiny_model):
    import numpy as np
    import torch

    from newstag.alignment import to_pieces
    from newstag.inference import word_log_probs

    tagger = Tagger.load(tiny_model, device="cpu")
    pieces = [to_pieces(tagger.tokenizer, "Unbelievably, Ana Ruiz said the port would reopen.")]
    args = (tagger.model, tagger.tokenizer, pieces, 4, torch.device("cpu"))
    (ent, quo), = word_log_probs(*args)
    (ent_v, quo_v, vectors), = word_log_probs(*args, vectors=True)
    assert np.array_equal(ent, ent_v) and np.array_equal(quo, quo_v)
    assert vectors.shape == (len(pieces[0].words), tagger.model.entity_head.in_features)
    # Each word's vector is the one its entity logits were read from: the head reproduces them.
    logits = tagger.model.entity_head(torch.tensor(vectors, dtype=torch.float32))
    assert np.allclose(torch.log_softmax(logits, -1).detach().numpy(), ent, atol=1e-2)


def test_corpus_weights_set_each_corpus_share_of_an_epoch():
    import random

    order = epoch_order([100, 10], [1.0, 3.0], random.Random(0))
    counts = [sum(1 for c, _ in order if c == k) for k in (0, 1)]
    assert counts == [100, 30]


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
    assert json.loads((out / "config.json").read_text())["layers"] == ["quotes"]
    text = "“We hold,” said Olena Kovalenko of the Kyiv City Council in Kyiv on Monday."
    doc = Tagger.load(out, device="cpu")(text)
    assert doc.layers == ["quotes"] and doc.entities == []
    # A model trained on both layers keeps both.
    both = Tagger.load(tiny_model, device="cpu")(text)
    assert both.layers == ["entities", "quotes"]


def test_layer_wise_decay_gives_lower_layers_smaller_learning_rates(corpus_files):
    from newstag.training import build_model, make_optimizer

    config = load_config(tiny_config(corpus_files))
    config.training.lr_layer_decay = 0.5
    model, _ = build_model(config)
    optimizer, _ = make_optimizer(model, config.training, total_steps=10)
    n_layers = model.encoder.config.num_hidden_layers
    lr = config.training.lr_encoder
    rates = [g["initial_lr"] for g in optimizer.param_groups]
    # embeddings, each layer, above the layers (none in BERT without its pooler), heads
    assert rates[:n_layers + 1] == [lr * 0.5 ** (n_layers + 1 - d) for d in range(n_layers + 1)]
    assert rates[-1] == config.training.lr_head
    n_params = sum(len(g["params"]) for g in optimizer.param_groups)
    assert n_params == len(list(model.parameters()))


def test_weight_average_is_the_mean_of_the_weights_it_was_given():
    import torch
    from newstag.training import WeightAverage

    model = torch.nn.Linear(2, 1)
    averager = WeightAverage()
    for value in (1.0, 2.0, 6.0):
        torch.nn.init.constant_(model.weight, value)
        averager.add(model)
    averager.load_into(model)
    assert averager.count == 3 and torch.allclose(model.weight, torch.full((1, 2), 3.0))


def test_averaging_the_last_epochs_saves_the_averaged_weights_and_logs_both_scores(tmp_path, corpus_files):
    out = tmp_path / "avg"
    summary = train(load_config(tiny_config(corpus_files), ["training.epochs=3", "training.average_last=2"]),
                    out, progress=False, log=lambda m: None)
    records = [json.loads(l) for l in (out / "metrics.jsonl").read_text().splitlines()]
    averaged = [r for r in records if r["event"] == "averaged"]
    assert len(averaged) == 1 and averaged[0]["epochs"] == 2
    assert summary["dev"] == averaged[0]["dev"]
    assert summary["last_epoch_dev"] == [r for r in records if r["event"] == "epoch"][-1]["dev"]
    saved = json.loads((out / "config.json").read_text())
    assert saved["averaged_epochs"] == 2
    # What was saved is the averaged model: reloading it gives the averaged dev scores.
    from newstag.evaluation import evaluate, headline
    from newstag.formats import read_jsonl

    gold = read_jsonl(corpus_files / "dev.jsonl")
    tagger = Tagger.load(out, device="cpu")
    assert headline(evaluate(gold, list(tagger.pipe(gold, batch_size=16)))) == averaged[0]["dev"]["fixture"]
