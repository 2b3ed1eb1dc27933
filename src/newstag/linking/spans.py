"""What the tagger finds in one article, before and after linking: one set of types.

``Mention`` is any predicted span (a cue, a speaker phrase, an entity mention);
``PredictedQuote`` is a quote's content with the cue, speaker and resolved name a
linker gives it; ``Predictions`` holds an article's spans of every kind and the layers
the tagger reports. ``Predictions.of_gold`` takes a gold document's own spans (links
removed) for measuring a linker alone; ``Predictions.to_document`` is the one way back
to the interchange format.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Optional

from ..document import LAYERS, Document, Entity, Quote, Span


@dataclass
class Mention:
    start: int
    end: int
    score: float = 1.0
    label: str = ""


@dataclass
class PredictedQuote:
    start: int
    end: int
    kind: str
    score: float = 1.0
    cue: Optional[Mention] = None
    speaker: Optional[Mention] = None
    speaker_entity: Optional[Mention] = None
    speaker_score: Optional[float] = None  # the learned linker's probability for its choice (a speaker, or none)


@dataclass
class Predictions:
    quotes: list[PredictedQuote] = field(default_factory=list)
    cues: list[Mention] = field(default_factory=list)
    speakers: list[Mention] = field(default_factory=list)
    entities: list[Mention] = field(default_factory=list)
    layers: tuple[str, ...] = LAYERS

    @classmethod
    def of_gold(cls, doc: Document) -> "Predictions":
        """A document's own spans, links removed: quotes in order, each cue and speaker once
        however many quotes share it."""
        quotes = [PredictedQuote(q.start, q.end, q.kind) for q in sorted(doc.quotes, key=lambda q: q.start)]
        cues = {(q.cue.start, q.cue.end): Mention(q.cue.start, q.cue.end, 1.0, "CUE") for q in doc.quotes if q.cue}
        speakers = {(q.speaker.start, q.speaker.end): Mention(q.speaker.start, q.speaker.end, 1.0, "SPEAKER")
                    for q in doc.quotes if q.speaker}
        entities = [Mention(e.start, e.end, 1.0, e.label) for e in doc.entities]
        return cls(quotes, list(cues.values()), list(speakers.values()), entities, tuple(doc.layers))

    def with_quotes(self, quotes: list[PredictedQuote]) -> "Predictions":
        return replace(self, quotes=quotes)

    def unlinked_quotes(self) -> list[PredictedQuote]:
        """Fresh copies of the quotes with no links, in text order: what a linker fills in."""
        return [PredictedQuote(q.start, q.end, q.kind, q.score) for q in sorted(self.quotes, key=lambda q: q.start)]

    def to_document(self, doc: Document, rounded: bool = True) -> Document:
        """The predictions as a Document with ``doc``'s id, text and meta."""
        def score(value):
            return round(value, 4) if rounded else value

        def span(m, scored=True):
            return None if m is None else Span(start=m.start, end=m.end, score=score(m.score) if scored else None)

        return Document(
            id=doc.id, text=doc.text, meta=doc.meta, layers=list(self.layers),
            entities=[Entity(start=e.start, end=e.end, label=e.label, score=score(e.score)) for e in self.entities],
            quotes=[Quote(start=q.start, end=q.end, kind=q.kind, score=score(q.score), cue=span(q.cue),
                          speaker=span(q.speaker), speaker_entity=span(q.speaker_entity, scored=False),
                          speaker_score=None if q.speaker_score is None else score(q.speaker_score))
                    for q in self.quotes])
