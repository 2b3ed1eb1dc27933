"""The multi-task model: one pretrained encoder, two token-classification heads.

* entity head: BIO over the entity labels (PER, ORG, LOC, MISC by default);
* quote head: BIO over DIRECT / INDIRECT / MIXED (quote content, its kind in the label),
  CUE and SPEAKER.

Each word is represented by its first subword's hidden state concatenated with a
learned embedding of its shape (casing, quotation marks, paragraph start): the default
encoder is uncased, and casing is what tells "Turkey" the country from "turkey" the bird.
With ``context_lstm`` a bidirectional LSTM over the window's subwords sits between that
and the heads (CoNLL-2003 valid +1.5 entity F1 with the 6-layer default encoder).
The loss of a layer a document is not annotated for is masked (its labels are -100),
so corpora annotating different layers train one model. With ``crf`` each head is a
linear-chain CRF over the window's words: the loss is the negative log-likelihood of
the whole tag sequence, and the learned transition scores replace the counted
decoding prior (decoding.py).

Saved in the Hugging Face style: ``config.json`` (label maps, casing scheme, window
settings, encoder config, newstag version), ``model.safetensors``, tokenizer files.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import __version__
from .decoding import QUOTE_ROLES, bio_tags
from .document import LAYERS
from .text import N_SHAPES, SHAPES

FORMAT_VERSION = 1
IGNORE = -100


def load_encoder(encoder_cfg):
    """(encoder, tokenizer) from a config's ``model.encoder`` section."""
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    source = encoder_cfg.name_or_path
    if encoder_cfg.package:
        import importlib

        source = importlib.import_module(encoder_cfg.package).get_model_path()
    tokenizer_source = encoder_cfg.tokenizer or source
    if tokenizer_source is None:
        raise ValueError("model.encoder needs name_or_path, package or tokenizer to find a tokenizer")
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_source)
    if encoder_cfg.from_config is not None:
        cfg = dict(encoder_cfg.from_config)
        model_type = cfg.pop("model_type", "bert")
        cfg.setdefault("vocab_size", len(tokenizer))
        encoder = AutoModel.from_config(AutoConfig.for_model(model_type, **cfg))
    else:
        encoder = AutoModel.from_pretrained(source)
    return without_pooler(encoder), tokenizer


def without_pooler(encoder):
    """Token classification never uses the sentence pooler: drop it, so no unused
    weights are trained, saved, or expected on load."""
    if getattr(encoder, "pooler", None) is not None:
        encoder.pooler = None
    return encoder


class NewstagModel(nn.Module):
    def __init__(self, encoder, entity_labels, shape_dim=32, dropout=0.1, max_length=256, stride=64, linker="rule",
                 transition_weight=0.0, transitions=None, crf=False, context_lstm=0, layers=LAYERS):
        super().__init__()
        self.encoder = encoder
        self.settings = {
            "entity_labels": list(entity_labels),
            "entity_tags": bio_tags(entity_labels),
            "quote_tags": bio_tags(QUOTE_ROLES),
            "shape_dim": shape_dim,
            "shapes": list(SHAPES),
            "dropout": dropout,
            "max_length": min(max_length, getattr(encoder.config, "max_position_embeddings", max_length)),
            "stride": stride,
            "linker": linker,
            # Decoding prior (see decoding.py): per layer, log P(tag | previous tag) in the
            # training labels, as nested lists; None where the layer had no training data.
            "transition_weight": transition_weight,
            "transitions": transitions or {"entity": None, "quote": None},
            "crf": crf,
            "context_lstm": context_lstm,
            # The annotation layers the model learned. A head whose layer no training
            # document annotated was never trained, so its output is noise and is not
            # decoded (a quotes-only PolNeAR model emits no entities).
            "layers": [layer for layer in LAYERS if layer in layers],
        }
        width = encoder.config.hidden_size + shape_dim
        self.shape_embedding = nn.Embedding(N_SHAPES, shape_dim, padding_idx=0) if shape_dim else None
        self.dropout = nn.Dropout(dropout)
        # An optional BiLSTM between the encoder (+ shapes) and the heads: it carries each
        # word's later subwords, and its neighbours' shapes, to the first subword the
        # heads read.
        self.context = None
        if context_lstm:
            self.context = nn.LSTM(width, context_lstm, batch_first=True, bidirectional=True)
            width = 2 * context_lstm
        self.entity_head = nn.Linear(width, len(self.settings["entity_tags"]))
        self.quote_head = nn.Linear(width, len(self.settings["quote_tags"]))
        if crf:  # (from, to) transition scores, learned with the heads
            self.entity_crf = nn.Parameter(torch.zeros(len(self.entity_tags), len(self.entity_tags)))
            self.quote_crf = nn.Parameter(torch.zeros(len(self.quote_tags), len(self.quote_tags)))

    @property
    def entity_tags(self):
        return self.settings["entity_tags"]

    @property
    def quote_tags(self):
        return self.settings["quote_tags"]

    @property
    def layers(self) -> list[str]:
        return self.settings["layers"]

    def transition_prior(self, layer: str):
        """The transition scores decoding adds for ``layer`` ("entity" or "quote"), or
        None: a CRF's learned ones, else the counted prior times its weight."""
        if self.settings["crf"]:
            return getattr(self, f"{layer}_crf").detach().float().cpu().numpy()
        return self.transition_prior_counted(layer)

    def transition_prior_counted(self, layer: str):
        """The counted prior (``settings["transitions"]``) times its weight, or None."""
        table = self.settings["transitions"].get(layer)
        if table is None or not self.settings["transition_weight"]:
            return None
        return self.settings["transition_weight"] * np.asarray(table)

    def start_crf_from_prior(self):
        """Set each CRF's transitions to the weighted counted prior (the decoding that
        measured best without a CRF), for training to refine: started at zero they move
        too little in a short run to be worth their cost."""
        if not self.settings["crf"]:
            return
        for layer in ("entity", "quote"):
            prior = self.transition_prior_counted(layer)
            if prior is not None:
                with torch.no_grad():
                    getattr(self, f"{layer}_crf").copy_(torch.as_tensor(prior))

    def head_parameters(self):
        return [p for n, p in self.named_parameters() if not n.startswith("encoder.")]

    def forward(self, input_ids, attention_mask, shape_ids, entity_labels=None, quote_labels=None,
                label_smoothing=0.0):
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        if self.shape_embedding is not None:
            hidden = torch.cat([hidden, self.shape_embedding(shape_ids).to(hidden.dtype)], dim=-1)
        hidden = self.dropout(hidden)
        if self.context is not None:
            hidden = self.dropout(run_lstm(self.context, hidden, attention_mask))
        out = {"entity_logits": self.entity_head(hidden), "quote_logits": self.quote_head(hidden), "hidden": hidden}
        if entity_labels is not None and quote_labels is not None:
            if self.settings["crf"]:
                out["entity_loss"] = crf_loss(out["entity_logits"], entity_labels, self.entity_crf)
                out["quote_loss"] = crf_loss(out["quote_logits"], quote_labels, self.quote_crf)
            else:
                out["entity_loss"] = masked_loss(out["entity_logits"], entity_labels, label_smoothing)
                out["quote_loss"] = masked_loss(out["quote_logits"], quote_labels, label_smoothing)
            out["loss"] = out["entity_loss"] + out["quote_loss"]
        return out

    # ---- saving and loading -------------------------------------------------------
    def config_dict(self) -> dict:
        return {
            "architecture": "NewstagModel",
            "newstag_version": __version__,
            "format_version": FORMAT_VERSION,
            **self.settings,
            "encoder_model_type": self.encoder.config.model_type,
            "encoder_config": self.encoder.config.to_dict(),
        }

    def save_pretrained(self, directory, tokenizer, extra: dict | None = None, linker=None) -> Path:
        """Write the model directory atomically: a crash mid-save leaves the old one intact."""
        from safetensors.torch import save_file

        directory = Path(directory)
        directory.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
        try:
            state = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()}
            save_file(state, str(tmp / "model.safetensors"), metadata={"format": "pt"})
            config = self.config_dict() | (extra or {})
            (tmp / "config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False), encoding="utf-8")
            tokenizer.save_pretrained(str(tmp))
            if linker is not None:
                linker.save(tmp)
            old = None
            if directory.exists():
                # Files the model does not own (metrics.jsonl, reports) stay in place.
                for f in directory.iterdir():
                    if not (tmp / f.name).exists() and f.is_file():
                        shutil.copy2(f, tmp / f.name)
                old = directory.with_name(f".{directory.name}.old")
                shutil.rmtree(old, ignore_errors=True)
                os.replace(directory, old)
            os.replace(tmp, directory)
            if old:
                shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return directory

    @classmethod
    def from_settings(cls, encoder, settings: dict):
        """A model with fresh heads laid out as ``settings`` says (a saved config.json, or
        another model's ``settings``); keys older models lack take their defaults."""
        return cls(encoder, settings["entity_labels"], settings["shape_dim"], settings["dropout"],
                   settings["max_length"], settings["stride"], settings.get("linker", "rule"),
                   settings.get("transition_weight", 0.0), settings.get("transitions"), settings.get("crf", False),
                   settings.get("context_lstm", 0), settings.get("layers", LAYERS))

    @classmethod
    def from_pretrained(cls, directory):
        """(model, tokenizer, config) from a directory written by ``save_pretrained``."""
        from safetensors.torch import load_file
        from transformers import AutoConfig, AutoModel, AutoTokenizer

        directory = Path(directory)
        config_path = directory / "config.json"
        if not config_path.is_file():
            raise FileNotFoundError(f"{directory}: not a newstag model directory (no config.json)")
        config = json.loads(config_path.read_text(encoding="utf-8"))
        if config.get("architecture") != "NewstagModel":
            raise ValueError(f"{config_path}: not a newstag model (architecture={config.get('architecture')!r})")
        if config.get("format_version", 0) > FORMAT_VERSION:
            raise ValueError(f"{config_path}: written by a newer newstag ({config.get('newstag_version')}); upgrade newstag")
        if config.get("shapes") != list(SHAPES):
            raise ValueError(f"{config_path}: word-shape scheme differs from this newstag's")
        enc_cfg = dict(config["encoder_config"])
        enc_cfg.pop("model_type", None)
        encoder = without_pooler(AutoModel.from_config(AutoConfig.for_model(config["encoder_model_type"], **enc_cfg)))
        model = cls.from_settings(encoder, config)
        state = load_file(str(directory / "model.safetensors"))
        missing, unexpected = model.load_state_dict(state, strict=False)
        # Position ids are buffers some encoders do not save; anything else is an error.
        missing = [k for k in missing if not k.endswith("position_ids")]
        if missing or unexpected:
            raise ValueError(f"{directory}: weights do not match the config (missing {missing[:5]}, unexpected {unexpected[:5]})")
        tokenizer = AutoTokenizer.from_pretrained(str(directory))
        model.eval()
        return model, tokenizer, config


def run_lstm(lstm, hidden, attention_mask):
    """The LSTM over each window's real positions only: the backward direction must
    not start from the padding."""
    lengths = attention_mask.sum(1).cpu()
    # Under bf16 autocast the encoder's output is bf16; the LSTM's weights stay fp32.
    hidden = hidden.to(lstm.weight_ih_l0.dtype)
    packed = nn.utils.rnn.pack_padded_sequence(hidden, lengths, batch_first=True, enforce_sorted=False)
    out, _ = lstm(packed)
    out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=hidden.size(1))
    return out


def masked_loss(logits, labels, label_smoothing=0.0):
    """Cross-entropy over labelled positions; zero (with a graph) when none are labelled."""
    mask = labels != IGNORE
    if not mask.any():
        return logits.sum() * 0.0
    return nn.functional.cross_entropy(logits[mask].float(), labels[mask], label_smoothing=label_smoothing)


def crf_loss(emissions, labels, transitions):
    """Linear-chain CRF negative log-likelihood per labelled word.

    ``emissions`` (batch, positions, tags); ``labels`` (batch, positions) with -100 where
    a position is not a labelled word (later subwords, special tokens, a layer the
    document lacks); ``transitions`` (from, to). Each window's labelled words form its
    sequence. A window may start or end inside a span (windows overlap), so there are
    no start or end scores.
    """
    mask = labels != IGNORE
    rows = mask.any(1)
    if not rows.any():
        return emissions.sum() * 0.0
    emissions, labels, mask = emissions[rows].float(), labels[rows], mask[rows]
    lengths = mask.sum(1)
    n = int(lengths.max())
    # The labelled positions of each row, moved to the front in order.
    order = torch.argsort((~mask).to(torch.int8), dim=1, stable=True)[:, :n]
    em = emissions.gather(1, order.unsqueeze(-1).expand(-1, -1, emissions.size(-1)))
    present = torch.arange(n, device=labels.device)[None] < lengths[:, None]
    tags = labels.gather(1, order).masked_fill(~present, 0)
    trans = transitions.float()
    gold = (em.gather(2, tags.unsqueeze(-1)).squeeze(-1) * present).sum(1)
    gold = gold + (trans[tags[:, :-1], tags[:, 1:]] * present[:, 1:]).sum(1)
    alpha = em[:, 0]
    for i in range(1, n):
        step = torch.logsumexp(alpha.unsqueeze(2) + trans, dim=1) + em[:, i]
        alpha = torch.where(present[:, i:i + 1], step, alpha)
    return (torch.logsumexp(alpha, 1) - gold).sum() / lengths.sum()
