"""Who said what, for a person to read."""
from __future__ import annotations

from collections import OrderedDict

from .document import Document
from .lexicon import NAME_LABELS


def speaker_name(doc: Document, quote) -> str:
    """The name a reader knows the speaker by: the resolved name, else the PER/ORG name
    inside the speaker phrase ("Amara Diallo" in "Amara Diallo, who leads ..."), else the phrase."""
    if quote.speaker_entity is not None:
        return quote.speaker_entity.text
    if quote.speaker is None:
        return "(no speaker found)"
    s = quote.speaker
    names = [e for e in doc.entities if e.label in NAME_LABELS and s.start <= e.start and e.end <= s.end]
    people = [e for e in names if e.label == "PER"]
    return (people or names)[0].text if names else s.text


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
    speakers = OrderedDict()
    for q in doc.quotes:
        speakers.setdefault(speaker_name(doc, q), []).append(q)
    for name, quotes in speakers.items():
        lines.append("")
        lines.append(f"{name}:")
        for q in quotes:
            via = f" [{q.cue.text}]" if q.cue else ""
            shown = f" (as “{q.speaker.text}”)" if q.speaker is not None and q.speaker.text != name else ""
            lines.append(f"  - ({q.kind}{via}{shown}) {q.text}")
    return "\n".join(lines) + "\n"
