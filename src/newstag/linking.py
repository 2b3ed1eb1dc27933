"""Quote → speaker linking.

The interface is one function, ``link(text, quotes, cues, speakers, entities)``, that
gives every quote its cue, speaker and (for a pronoun or description) the named entity
it resolves to. This module holds the rule-based linker; a learned linker can replace
it behind the same call.

The rules, in order:
1. the nearest SPEAKER span in the quote's own sentence(s), outside the quote;
2. a quote with no cue and no speaker in its sentence, that follows another quote
   closely, continues it and inherits its speaker;
3. a cue in the quote's sentence but no SPEAKER span: the nearest PER or ORG mention
   before the cue in that sentence ("the dockers' union, which warned that ...");
4. a SPEAKER span in the sentence just before ("X said at a briefing. “...”");
5. the nearest preceding PER or ORG mention within the paragraph.
A quote's cue is the nearest cue in its own sentence(s); failing that, the cue across
the sentence boundary it stands against (``adjacent_cue``; both linkers use it).
A speaker that contains no PER/ORG name is resolved to the nearest fitting name before
it: PER for he/she/him/her, ORG for it/they/which/the company..., either otherwise.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from .text import QUOTE_MARKS, Sentences

PERSON_PRONOUNS = {"he", "she", "him", "her", "his", "i", "me", "who"}
GROUP_WORDS = {"it", "they", "them", "which", "we", "company", "ministry", "government", "union",
               "club", "party", "agency", "court", "police", "firm", "group", "council", "department",
               "organisation", "organization", "bank", "board", "committee", "authority", "officials"}


@dataclass
class SpanPred:
    start: int
    end: int
    score: float = 1.0
    label: str = ""


@dataclass
class LinkedQuote:
    start: int
    end: int
    kind: str
    score: float
    cue: Optional[SpanPred] = None
    speaker: Optional[SpanPred] = None
    speaker_entity: Optional[SpanPred] = None
    extra: dict = field(default_factory=dict)


def _distance(a: SpanPred | LinkedQuote, b: SpanPred) -> int:
    """Characters between two spans (0 when they touch or overlap)."""
    return max(b.start - a.end, a.start - b.end, 0)


def nearest_cue(q: LinkedQuote, cues: list[SpanPred], sents: Sentences) -> Optional[SpanPred]:
    """The quote's own cue: the nearest cue in the quote's sentence(s), outside the quote."""
    first, last = sents.index(q.start), sents.index(max(q.end - 1, q.start))
    near = [c for c in cues if first <= sents.index(c.start) <= last and not (q.start <= c.start < q.end)]
    return min(near, key=lambda c: _distance(q, c), default=None)


def adjacent_cue(q: LinkedQuote, cues: list[SpanPred], quotes: list[LinkedQuote], sents: Sentences) -> Optional[SpanPred]:
    """For a quote with no cue in its own sentence(s), the cue of the attribution it
    stands against across a sentence boundary, in the same paragraph (or after a colon):

    * a quote that opens its sentence takes the last cue of the sentence before
      ("Muir was blunt. “…”", "The paper reports:¶“…”", and a continued quote,
      "“…,” she said. “…”", which both corpora annotate with the cue it continues);
    * a quote that closes its sentence with a question or exclamation takes the first
      cue of the sentence after ("“Who would have believed it?” Trump said."; after a
      full stop the next sentence is a sentence of its own).
    No other quote may stand between the two.
    """
    text, blank = sents.text, QUOTE_MARKS + " \n"  # what may stand between a quote and its sentence's edge
    first, last = sents.index(q.start), sents.index(max(q.end - 1, q.start))
    if not text[sents.bounds[first][0]:q.start].strip(blank):
        before = max((c for c in cues if sents.index(c.start) == first - 1 and c.end <= q.start),
                     key=lambda c: c.start, default=None)
        if before and _joined(text, before.end, q.start, quotes, q):
            return before
    sentence_end = sents.bounds[last][1]
    closes_sentence = not text[q.end:sentence_end].strip(blank)
    if closes_sentence and text[q.start:sentence_end].rstrip(blank).endswith(("?", "!")):
        after = min((c for c in cues if sents.index(c.start) == last + 1 and c.start >= q.end),
                    key=lambda c: c.start, default=None)
        if after and _joined(text, q.end, after.start, quotes, q):
            return after
    return None


def _joined(text: str, start: int, end: int, quotes: list[LinkedQuote], q: LinkedQuote) -> bool:
    """Whether the gap [start, end) ties a quote to a cue: one paragraph (or a colon and
    a paragraph break, "reports:¶“…”") and no other quote inside it."""
    gap = text[start:end]
    same_paragraph = "\n" not in gap or gap.lstrip().startswith(":")
    return same_paragraph and not any(o is not q and start <= o.start < end for o in quotes)


def link(text: str, quotes: list[LinkedQuote], cues: list[SpanPred], speakers: list[SpanPred],
         entities: list[SpanPred]) -> list[LinkedQuote]:
    sents = Sentences(text)
    names = [e for e in entities if e.label in ("PER", "ORG")]
    previous: Optional[LinkedQuote] = None
    for q in sorted(quotes, key=lambda q: q.start):
        first, last = sents.index(q.start), sents.index(max(q.end - 1, q.start))
        in_sentences = lambda s: first <= sents.index(s.start) <= last  # noqa: E731
        near_speakers = [s for s in speakers if in_sentences(s) and not (q.start <= s.start < q.end)]
        q.cue = nearest_cue(q, cues, sents)
        if near_speakers:
            q.speaker = min(near_speakers, key=lambda s: _distance(q, s))
        elif previous and previous.speaker and q.cue is None and sents.index(previous.end - 1) >= first - 2:
            q.speaker, q.speaker_entity = previous.speaker, previous.speaker_entity
            q.cue = q.cue or previous.cue
            previous = q
            continue
        elif q.cue is not None and _name_before(q.cue, names, sents):
            q.speaker = _name_before(q.cue, names, sents)
        else:
            before = [s for s in speakers if sents.index(s.start) == first - 1]
            if before:
                q.speaker = before[-1]
            else:
                p_start, _ = sents.paragraph_of(q.start)
                candidates = [e for e in names if p_start <= e.start and e.end <= q.start]
                q.speaker = candidates[-1] if candidates else None
        if q.speaker is not None:
            q.speaker_entity = resolve(text, q.speaker, names)
        q.cue = q.cue or adjacent_cue(q, cues, quotes, sents)
        previous = q
    return quotes


def _name_before(cue: SpanPred, names: list[SpanPred], sents: Sentences) -> Optional[SpanPred]:
    """The nearest PER/ORG mention before a cue in its sentence ("the union, which warned")."""
    sentence = sents.index(cue.start)
    before = [n for n in names if n.end <= cue.start and sents.index(n.start) == sentence]
    return before[-1] if before else None


def resolve(text: str, speaker: SpanPred, names: list[SpanPred]) -> Optional[SpanPred]:
    """The named mention a non-name speaker refers to; None when the speaker is a name."""
    if any(speaker.start <= n.start and n.end <= speaker.end for n in names):
        return None
    words = text[speaker.start:speaker.end].lower().split()
    wanted = ("PER",) if words and words[-1] in PERSON_PRONOUNS and words[-1] != "who" else \
        ("ORG",) if words and words[-1] in GROUP_WORDS else ("PER", "ORG")
    before = [n for n in names if n.end <= speaker.start and n.label in wanted]
    if before:
        return before[-1]
    after = [n for n in names if n.start >= speaker.end and n.label in wanted]
    return after[0] if after else None


def gold_link_inputs(doc):
    """A document's own spans as linker inputs, links removed: (quotes in order, cues,
    speakers, entities), each cue and speaker once however many quotes share it."""
    quotes = [LinkedQuote(q.start, q.end, q.kind, 1.0) for q in sorted(doc.quotes, key=lambda q: q.start)]
    cues = list({(q.cue.start, q.cue.end): SpanPred(q.cue.start, q.cue.end, 1.0, "CUE") for q in doc.quotes if q.cue}.values())
    speakers = list({(q.speaker.start, q.speaker.end): SpanPred(q.speaker.start, q.speaker.end, 1.0, "SPEAKER")
                     for q in doc.quotes if q.speaker}.values())
    entities = [SpanPred(e.start, e.end, 1.0, e.label) for e in doc.entities]
    return quotes, cues, speakers, entities


def relink(doc, linker=link):
    """A copy of ``doc`` whose quotes are linked afresh from its own spans (links removed).

    Measures a linker alone: given gold spans, any attribution error is the linker's.
    """
    from .document import Document, Quote, Span

    quotes, cues, speakers, entities = gold_link_inputs(doc)
    linker(doc.text, quotes, cues, speakers, entities)
    span = lambda p: None if p is None else Span(start=p.start, end=p.end)  # noqa: E731
    return Document(id=doc.id, text=doc.text, layers=doc.layers, entities=doc.entities, meta=doc.meta,
                    quotes=[Quote(start=q.start, end=q.end, kind=q.kind, cue=span(q.cue), speaker=span(q.speaker),
                                  speaker_entity=span(q.speaker_entity)) for q in quotes])
