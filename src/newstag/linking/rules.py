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
from .cues import adjacent_cue, nearest_cue, nearest_outside
from ..spanindex import SpanIndex
from .spans import Mention, PredictedQuote, Predictions


class RuleLinker:
    name = "rule"

    def __call__(self, text: str, found: Predictions) -> list[PredictedQuote]:
        sents = Sentences(text)
        names = {label: SpanIndex(e for e in found.entities if e.label == label) for label in NAME_LABELS}
        all_names = SpanIndex(e for e in found.entities if e.label in NAME_LABELS)
        speakers, cues = SpanIndex(found.speakers), SpanIndex(found.cues)
        quotes = found.unlinked_quotes()
        quote_index = SpanIndex(quotes)
        previous: Optional[PredictedQuote] = None
        for q in quotes:
            first, last = sents.index(q.start), sents.index(max(q.end - 1, q.start))
            q.cue = nearest_cue(q, cues, sents)
            near_speaker = nearest_outside(q, speakers, *sents.offsets(first, last))
            if near_speaker:
                q.speaker = near_speaker
            elif previous and previous.speaker and q.cue is None and sents.index(previous.end - 1) >= first - 2:
                q.speaker, q.speaker_entity = previous.speaker, previous.speaker_entity
                q.cue = q.cue or previous.cue
                previous = q
                continue
            elif q.cue is not None and _name_before(q.cue, all_names, sents):
                q.speaker = _name_before(q.cue, all_names, sents)
            else:
                before = speakers.starting_in(*sents.offsets(first - 1, first - 1))
                if before:
                    q.speaker = before[-1]
                else:
                    p_start, _ = sents.paragraph_of(q.start)
                    q.speaker = all_names.last(q.start, lo=p_start, where=lambda e: e.end <= q.start)
            if q.speaker is not None:
                q.speaker_entity = resolve(text, q.speaker, names, all_names)
            q.cue = q.cue or adjacent_cue(q, cues, quote_index, sents)
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


def _name_before(cue: Mention, names: SpanIndex, sents: Sentences) -> Optional[Mention]:
    """The nearest PER/ORG mention before a cue in its sentence ("the union, which warned")."""
    lo, _ = sents.offsets(sents.index(cue.start), sents.index(cue.start))
    return names.last(cue.start, lo=lo, where=lambda n: n.end <= cue.start)


def resolve(text: str, speaker: Mention, names: dict[str, SpanIndex], all_names: SpanIndex) -> Optional[Mention]:
    """The named mention a non-name speaker refers to; None when the speaker is a name."""
    if all_names.within(speaker.start, speaker.end):
        return None
    words = text[speaker.start:speaker.end].lower().split()
    last = words[-1] if words else ""
    wanted = ("PER",) if last in SINGULAR_PERSON_PRONOUNS else ("ORG",) if last in RULE_GROUP_WORDS else NAME_LABELS
    before = [names[label].last(speaker.start, where=lambda n: n.end <= speaker.start) for label in wanted]
    before = [n for n in before if n is not None]
    if before:
        return max(before, key=lambda n: (n.start, n.end))
    after = [n for n in (names[label].first(speaker.end) for label in wanted) if n is not None]
    return min(after, key=lambda n: (n.start, n.end), default=None)
