"""Who said what, for a person to read."""
from __future__ import annotations

from collections import OrderedDict
from typing import Optional

from .document import Document
from .lexicon import NAME_LABELS
from .spanindex import SpanIndex


def name_index(doc: Document) -> SpanIndex:
    """The document's PER/ORG mentions, for naming many speakers of one article."""
    return SpanIndex(e for e in doc.entities if e.label in NAME_LABELS)


def speaker_mention(quote, names: SpanIndex):
    """The mention that names a quote's speaker: its resolved name (``speaker_entity``),
    else the first person named inside the speaker phrase, else its first organisation;
    None for no speaker or a phrase that names nobody ("a company spokesman").

    First, not longest: the phrase's head comes first and what describes it follows
    ("Ratna Halim, a strategist at Straits Meridian Securities"; "Vinh Truong, a director
    of the firm that recruited Sigrun Asgeirsdottir")."""
    if quote.speaker_entity is not None:
        return quote.speaker_entity
    if quote.speaker is None:
        return None
    inside = names.within(quote.speaker.start, quote.speaker.end)
    people = [e for e in inside if e.label == "PER"]
    return (people or inside or [None])[0]


def speaker_name(doc: Document, quote, names: Optional[SpanIndex] = None) -> str:
    """The name a reader knows the speaker by (``speaker_mention``), else the phrase itself.
    Pass ``names`` (``name_index(doc)``) when naming many quotes of one document."""
    if quote.speaker is None and quote.speaker_entity is None:
        return "(no speaker found)"
    mention = speaker_mention(quote, names or name_index(doc))
    return mention.text if mention is not None else quote.speaker.text


def who_said_what(doc: Document) -> str:
    """Per article: the entities named, then each speaker (by resolved name) with their quotes in order."""
    lines = [f"== {doc.id} =="]
    by_label = OrderedDict()
    for e in doc.entities:
        names = by_label.setdefault(e.label, [])
        if e.text not in names:
            names.append(e.text)
    for label, names in by_label.items():
        lines.append(f"{label}: {', '.join(names)}")
    speakers, names = OrderedDict(), name_index(doc)
    for q in doc.quotes:
        speakers.setdefault(speaker_name(doc, q, names), []).append(q)
    for name, quotes in speakers.items():
        lines.append("")
        lines.append(f"{name}:")
        for q in quotes:
            via = f" [{q.cue.text}]" if q.cue else ""
            shown = f" (as “{q.speaker.text}”)" if q.speaker is not None and q.speaker.text != name else ""
            lines.append(f"  - ({q.kind}{via}{shown}) {q.text}")
    return "\n".join(lines) + "\n"
