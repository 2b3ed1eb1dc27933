"""The tagger network: one pretrained encoder, one tagging head per annotation layer.

    spec = ModelSpec.for_training(config.model, encoder, statistics)   # what config.json stores
    model = NewstagModel(spec, encoder)                                 # or NewstagModel(spec): a fresh encoder
    out = model(input_ids, attention_mask, shape_ids, labels)           # TaggerOutput: logits and losses
    spans = model.decode("quotes", [word_log_probs, ...])               # per article, the best valid tag path as spans

Each word is read at its first subword: the encoder's state there, concatenated with a
learned embedding of the word's shape (casing, quotation marks, paragraph start), since
the default encoder is uncased. With ``context_lstm`` a BiLSTM over the window's
subwords sits between that and the heads. Each head is a linear map to the layer's BIO
tags, trained either as a linear-chain CRF (the loss is the negative log-likelihood of
the whole tag sequence, and its learned transitions decode) or per word (decoding adds
the counted transition prior). A layer a document does not annotate is masked out of
the loss, so corpora annotating different layers train one model. The model owns its
loss, its decoding and its optimizer's parameter groups.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict
from torch import nn

from . import __version__
from .config import ModelConfig
from .crf import CRF, Chains, bio_tags, masked_loss
from .document import LAYERS
from .labels import layer_labels
from .text import N_SHAPES, SHAPES, bio_to_spans

FORMAT_VERSION = 2  # of the model directory; see modeldir.py for older ones


class ModelSpec(BaseModel):
    """Everything that fixes a trained model's shape and decoding: the run config's model
    section, the encoder's own config, and what was counted in the training data before
    the model was built (the layers it annotates, the tag-transition prior)."""

    model_config = ConfigDict(extra="forbid")
    architecture: Literal["NewstagModel"] = "NewstagModel"
    format_version: int = FORMAT_VERSION
    newstag_version: str = __version__
    model: ModelConfig
    encoder_config: dict
    annotated_layers: list[Literal["entities", "quotes"]]
    # Per layer, log P(tag | previous tag) in the training labels; None where no document annotates it.
    transitions: dict[str, Optional[list[list[float]]]]
    shapes: list[str] = list(SHAPES)
    training: dict = {}  # provenance: run name, best epoch, dev figures

    @classmethod
    def for_training(cls, model: ModelConfig, encoder, statistics: "CorpusStatistics") -> "ModelSpec":
        return cls(model=model, encoder_config=encoder.config.to_dict(),
                   annotated_layers=statistics.annotated_layers, transitions=statistics.transitions)

    def tags(self, layer: str) -> list[str]:
        return bio_tags(layer_labels(layer, self.model.entity_labels))

    @property
    def layers(self) -> list[str]:
        """The annotation layers the model learned, in LAYERS order. A head whose layer no
        training document annotated was never trained: its output is noise and is never decoded."""
        return [layer for layer in LAYERS if layer in self.annotated_layers]

    @property
    def window_length(self) -> int:
        """Subword tokens per window: the config's, or fewer where the encoder takes fewer."""
        return min(self.model.max_length, self.encoder_config.get("max_position_embeddings", self.model.max_length))


@dataclass
class CorpusStatistics:
    """What a model learns from its training data before any step: which layers the
    documents annotate, and how often each tag follows each other in their labels."""

    annotated_layers: list[str]
    transitions: dict[str, Optional[list[list[float]]]] = field(default_factory=dict)


@dataclass
class TaggerOutput:
    logits: dict[str, torch.Tensor]  # per layer: (batch, positions, tags)
    losses: dict[str, torch.Tensor] = field(default_factory=dict)  # per layer, with labels only

    @property
    def loss(self) -> torch.Tensor:
        return sum(self.losses.values())


def encoder_from_config(encoder_config: dict):
    """A randomly initialised encoder of a saved architecture (weights are loaded after)."""
    from transformers import AutoConfig, AutoModel

    cfg = dict(encoder_config)
    return without_pooler(AutoModel.from_config(AutoConfig.for_model(cfg.pop("model_type"), **cfg)))


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


def counted_prior(spec: ModelSpec, layer: str) -> Optional[np.ndarray]:
    """The weighted counted transition prior of a layer, or None (no counts, or weight 0)."""
    table = spec.transitions.get(layer)
    if table is None or not spec.model.transition_weight:
        return None
    return spec.model.transition_weight * np.asarray(table)


class TagDecoder:
    """What decoding needs of a trained model, without its network: the layers it learned,
    their tag sets and transition scores (a CRF head's learned ones, else the counted
    prior). The torch model makes one from its parameters; an exported graph's backend
    reads one from the model directory (modeldir.load_decoder) and never builds the encoder."""

    def __init__(self, spec: ModelSpec, crf_transitions: dict[str, np.ndarray]):
        self.spec = spec
        self.tags = {layer: spec.tags(layer) for layer in LAYERS}
        self.crf_transitions = crf_transitions

    @property
    def layers(self) -> list[str]:
        return self.spec.layers

    def transition_scores(self, layer: str) -> Optional[np.ndarray]:
        """What decoding adds for each tag transition: a CRF's learned scores, else the counted prior."""
        return self.crf_transitions[layer] if self.spec.model.crf else counted_prior(self.spec, layer)

    def decode(self, layer: str, log_probs: list[np.ndarray]) -> list[list[tuple[int, int, str, float]]]:
        """For each article's (words, tags) log-probabilities, the word spans (first,
        last_exclusive, label, score) of the best valid tag path; the score is the span's
        marginal probability under the same chain (the CRF's, or the softmax with the
        counted prior): P(exactly this span, with this label). Articles are decoded together
        (crf.Chains)."""
        tags = self.tags[layer]
        chains = Chains(log_probs, tags, self.transition_scores(layer))
        spans = [bio_to_spans([tags[i] for i in path]) for path in chains.viterbi()]
        scores = chains.span_marginals(spans)
        return [[(a, b, label, score) for (a, b, label), score in zip(s, sc)] for s, sc in zip(spans, scores)]

    @classmethod
    def from_pretrained(cls, directory) -> tuple["TagDecoder", object]:
        """(decoder, tokenizer) from a model directory, its network never built."""
        from .modeldir import load_decoder

        return load_decoder(directory, cls)


class NewstagModel(nn.Module):
    def __init__(self, spec: ModelSpec, encoder=None):
        super().__init__()
        self.spec = spec
        m = spec.model
        self.tags = {layer: spec.tags(layer) for layer in LAYERS}
        # CRF transitions are registered first: parameter order is the order in which the
        # gradient norm is summed for clipping, and this is the order models were trained in.
        self.crfs = nn.ModuleDict({layer: CRF(len(tags)) for layer, tags in self.tags.items()}) if m.crf else None
        self.encoder = encoder if encoder is not None else encoder_from_config(spec.encoder_config)
        width = self.encoder.config.hidden_size + m.shape_dim
        self.shape_embedding = nn.Embedding(N_SHAPES, m.shape_dim, padding_idx=0) if m.shape_dim else None
        self.dropout = nn.Dropout(m.dropout)
        # An optional BiLSTM between the encoder (+ shapes) and the heads: it carries each
        # word's later subwords, and its neighbours' shapes, to the first subword the heads read.
        self.context = None
        if m.context_lstm:
            self.context = nn.LSTM(width, m.context_lstm, batch_first=True, bidirectional=True)
            width = 2 * m.context_lstm
        self.heads = nn.ModuleDict({layer: nn.Linear(width, len(tags)) for layer, tags in self.tags.items()})
        self._start_transitions_from_prior()

    @property
    def layers(self) -> list[str]:
        return self.spec.layers

    def _start_transitions_from_prior(self):
        """A CRF's transitions start at the weighted counted prior (the decoding that measured
        best without a CRF), for training to refine: started at zero they move too little in
        a short run to be worth their cost."""
        for layer, crf in (self.crfs or {}).items():
            prior = counted_prior(self.spec, layer)
            if prior is not None:
                with torch.no_grad():
                    crf.transitions.copy_(torch.as_tensor(prior))

    def decoder(self) -> "TagDecoder":
        """Decoding as the model stands now (its CRFs' current transitions)."""
        return TagDecoder(self.spec, {layer: crf.scores() for layer, crf in (self.crfs or {}).items()})

    def transition_scores(self, layer: str) -> Optional[np.ndarray]:
        return self.decoder().transition_scores(layer)

    def decode(self, layer: str, log_probs: list[np.ndarray]) -> list[list[tuple[int, int, str, float]]]:
        return self.decoder().decode(layer, log_probs)

    def forward(self, input_ids, attention_mask, shape_ids, labels: Optional[dict] = None) -> TaggerOutput:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        if self.shape_embedding is not None:
            hidden = torch.cat([hidden, self.shape_embedding(shape_ids).to(hidden.dtype)], dim=-1)
        hidden = self.dropout(hidden)
        if self.context is not None:
            hidden = self.dropout(run_lstm(self.context, hidden, attention_mask))
        out = TaggerOutput({layer: head(hidden) for layer, head in self.heads.items()})
        if labels is not None:
            out.losses = {layer: self.loss(layer, out.logits[layer], labels[layer]) for layer in self.heads}
        return out

    def loss(self, layer: str, logits, labels):
        """The CRF's sequence likelihood, or per-word cross-entropy, over the labelled words."""
        return self.crfs[layer](logits, labels) if self.crfs is not None else masked_loss(logits, labels)

    def configure_optimizer(self, training):
        """AdamW: the pretrained encoder at ``lr_encoder``, everything fresh (shape embedding,
        BiLSTM, heads) at ``lr_head``: small budgets are dominated by the heads' rate.

        Weight decay only on the weight matrices of the encoder, the BiLSTM and the heads.
        Not on biases and LayerNorm (decay there only fights the scale the layer needs), the
        shape embedding (a lookup table of a dozen rows), nor the CRF transitions, which
        start at the counted prior and would be pulled towards zero."""
        def decays(name: str, p) -> bool:
            return p.dim() >= 2 and not name.startswith(("shape_embedding.", "crfs."))

        groups = []
        for lr, in_group in ((training.lr_encoder, lambda n: n.startswith("encoder.")),
                             (training.lr_head, lambda n: not n.startswith("encoder."))):
            named = [(n, p) for n, p in self.named_parameters() if in_group(n)]
            groups += [{"params": [p for n, p in named if decays(n, p)], "lr": lr, "weight_decay": training.weight_decay},
                       {"params": [p for n, p in named if not decays(n, p)], "lr": lr, "weight_decay": 0.0}]
        return torch.optim.AdamW([g for g in groups if g["params"]])

    def save_pretrained(self, directory, tokenizer, linker=None, training: Optional[dict] = None):
        """Write the model directory (modeldir.py): config, weights, tokenizer, linker, manifest."""
        from .modeldir import save_model

        if training is not None:
            self.spec = self.spec.model_copy(update={"training": training})
        return save_model(directory, self, tokenizer, linker)

    @classmethod
    def from_pretrained(cls, directory):
        """(model, tokenizer) from a directory written by ``save_pretrained`` (or an older newstag)."""
        from .modeldir import load_model

        return load_model(directory, cls)


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
