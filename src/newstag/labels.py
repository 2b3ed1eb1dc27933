"""What each annotation layer's head predicts, and the spans it learns from.

* ``entities``: BIO over the entity labels (PER, ORG, LOC, MISC by default);
* ``quotes``: BIO over DIRECT / INDIRECT / MIXED (a quote's content, its kind in the
  label), CUE and SPEAKER.

A head is keyed by the document layer it tags, so "the layers a model learned" and
"the heads it has" are one list of names.
"""
from __future__ import annotations

from .document import LAYERS, Document

ENTITY_LABELS = ("PER", "ORG", "LOC", "MISC")  # the default entity label set (CoNLL-2003's)
QUOTE_ROLES = ("DIRECT", "INDIRECT", "MIXED", "CUE", "SPEAKER")
KIND_OF_ROLE = {"DIRECT": "direct", "INDIRECT": "indirect", "MIXED": "mixed"}
ROLE_OF_KIND = {v: k for k, v in KIND_OF_ROLE.items()}


def layer_labels(layer: str, entity_labels) -> tuple[str, ...]:
    """The span labels a layer's head tags."""
    if layer not in LAYERS:
        raise ValueError(f"unknown layer {layer!r}; one of {', '.join(LAYERS)}")
    return tuple(entity_labels) if layer == "entities" else QUOTE_ROLES


def quote_spans(doc: Document) -> list[tuple[int, int, str]]:
    """The quote layer as labelled character spans: contents by kind, cues, speakers."""
    spans = {(q.start, q.end, ROLE_OF_KIND[q.kind]) for q in doc.quotes}
    spans |= {(q.cue.start, q.cue.end, "CUE") for q in doc.quotes if q.cue}
    spans |= {(q.speaker.start, q.speaker.end, "SPEAKER") for q in doc.quotes if q.speaker}
    return sorted(spans)


def layer_spans(doc: Document, layer: str, entity_labels) -> list[tuple[int, int, str]]:
    """A document's labelled character spans of one layer (entities of unknown labels left out)."""
    if layer == "quotes":
        return quote_spans(doc)
    known = set(entity_labels)
    return [(e.start, e.end, e.label) for e in doc.entities if e.label in known]


def corpus_statistics(docs: list[Document], entity_labels):
    """What a model learns from its training documents before any step: the layers they
    annotate, and per layer log P(tag | previous tag) over their labels (the decoding
    prior; None for a layer no document annotates)."""
    from .crf import bio_tags, transition_log_probs
    from .model import CorpusStatistics
    from .text import spans_to_bio, split_words

    sequences = {layer: [] for layer in LAYERS}
    for doc in docs:
        words = split_words(doc.text)
        for layer in doc.layers:
            sequences[layer].append(spans_to_bio(words, layer_spans(doc, layer, entity_labels)))
    transitions = {layer: transition_log_probs(seqs, bio_tags(layer_labels(layer, entity_labels))).round(4).tolist()
                   if seqs else None for layer, seqs in sequences.items()}
    return CorpusStatistics([layer for layer in LAYERS if sequences[layer]], transitions)
