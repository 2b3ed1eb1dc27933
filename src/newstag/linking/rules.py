"""The rule-based linker: quote → cue, speaker, and the name a non-name speaker refers to.

The rules, in order:
1. the nearest SPEAKER span in the quote's own sentence(s), outside the quote;
2. a quote with no cue and no speaker in its sentence, that follows another quote
   closely, continues it and inherits its speaker;
3. a cue in the quote's sentence but no SPEAKER span: the nearest PER or ORG mention
   before the cue in that sentence ("the dockers' union, which warned that ...");
4. a SPEAKER span in the sentence just before ("X said at a briefing. “...”");
5. the nearest preceding PER or ORG mention within the paragraph.
A speaker that contains no PER/ORG name is resolved to the nearest fitting name before
it: PER for he/she/him/her, ORG for it/they/which/the company..., either otherwise.
"""
from __future__ import annotations

from typing import Optional

from ..lexicon import NAME_LABELS, RULE_GROUP_WORDS, SINGULAR_PERSON_PRONOUNS
from ..text import Sentences
from .cues import adjacent_cue, distance, nearest_cue
from .spans import Mention, PredictedQuote, Predictions


class RuleLinker:
    name = "rule"

    def __call__(self, text: str, found: Predictions) -> list[PredictedQuote]:
        sents = Sentences(text)
        names = [e for e in found.entities if e.label in NAME_LABELS]
        quotes = found.unlinked_quotes()
        previous: Optional[PredictedQuote] = None
        for q in quotes:
            first, last = sents.index(q.start), sents.index(max(q.end - 1, q.start))
            near_speakers = [s for s in found.speakers
                             if first <= sents.index(s.start) <= last and not (q.start <= s.start < q.end)]
            q.cue = nearest_cue(q, found.cues, sents)
            if near_speakers:
                q.speaker = min(near_speakers, key=lambda s: distance(q, s))
            elif previous and previous.speaker and q.cue is None and sents.index(previous.end - 1) >= first - 2:
                q.speaker, q.speaker_entity = previous.speaker, previous.speaker_entity
                q.cue = q.cue or previous.cue
                previous = q
                continue
            elif q.cue is not None and _name_before(q.cue, names, sents):
                q.speaker = _name_before(q.cue, names, sents)
            else:
                before = [s for s in found.speakers if sents.index(s.start) == first - 1]
                if before:
                    q.speaker = before[-1]
                else:
                    p_start, _ = sents.paragraph_of(q.start)
                    candidates = [e for e in names if p_start <= e.start and e.end <= q.start]
                    q.speaker = candidates[-1] if candidates else None
            if q.speaker is not None:
                q.speaker_entity = resolve(text, q.speaker, names)
            q.cue = q.cue or adjacent_cue(q, found.cues, quotes, sents)
            previous = q
        return quotes

    # The rules learn nothing and store nothing.
    def fit(self, docs, predicted=None, seed: int = 13, log=None) -> dict:
        return {}

    def save(self, directory) -> None:
        pass

    @classmethod
    def load(cls, directory) -> "RuleLinker":
        return cls()


def _name_before(cue: Mention, names: list[Mention], sents: Sentences) -> Optional[Mention]:
    """The nearest PER/ORG mention before a cue in its sentence ("the union, which warned")."""
    sentence = sents.index(cue.start)
    before = [n for n in names if n.end <= cue.start and sents.index(n.start) == sentence]
    return before[-1] if before else None


def resolve(text: str, speaker: Mention, names: list[Mention]) -> Optional[Mention]:
    """The named mention a non-name speaker refers to; None when the speaker is a name."""
    if any(speaker.start <= n.start and n.end <= speaker.end for n in names):
        return None
    words = text[speaker.start:speaker.end].lower().split()
    last = words[-1] if words else ""
    wanted = ("PER",) if last in SINGULAR_PERSON_PRONOUNS else ("ORG",) if last in RULE_GROUP_WORDS else NAME_LABELS
    before = [n for n in names if n.end <= speaker.start and n.label in wanted]
    if before:
        return before[-1]
    after = [n for n in names if n.start >= speaker.end and n.label in wanted]
    return after[0] if after else None
