"""Named features of the learned linker's two choices.

* speaker: one row per (quote, candidate) pair, and one for "no speaker";
* resolution: one row per (speaker phrase, earlier name) pair, and one for "none".

Each row is built as a dict of named values; ``vector`` lays it out in the order of
the feature names, which are saved with the scorer's weights (a scorer is never fed a
layout it was not fitted on). Names absent from a row are 0.
"""
from __future__ import annotations

import bisect
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Optional

from ..lexicon import (DETERMINERS, GROUP_PRONOUNS, ORG_NOUNS, PERSON_NOUNS, PERSONAL_PRONOUNS, RELATIVE_PERSON,
                       RELATIVE_THING, lower_words)
from ..matching import surname
from ..text import Sentences
from .cues import nearest_cue
from ..spanindex import SpanIndex
from .spans import Mention, PredictedQuote

WORD_CLASS = ("personal_pronoun", "group_pronoun", "relative_person", "relative_thing", "description",
              "person_noun", "org_noun", "capitalised", "log_words")
SENTENCE_STEPS = (-3, -2, -1, 0, 1, 2)
PARAGRAPH_STEPS = (-2, -1, 0, 1)
QUOTE_FEATURES = ("quote_direct", "quote_indirect", "quote_mixed", "quote_has_cue", "quote_opens_paragraph",
                  "has_previous_speaker")
SPEAKER_FEATURES = ("none", "before", "after", *(f"sentences_{d}" for d in SENTENCE_STEPS),
                    *(f"paragraphs_{d}" for d in PARAGRAPH_STEPS), "log_gap", "log_quotes_between",
                    "is_speaker_span", "is_name_mention", "per", "org", "has_name", "cue_next_to",
                    "spoke_previous_quote", "inside_a_quote", *WORD_CLASS, "cue_of_quote", "before_cue",
                    "after_cue", "tagger_score", *QUOTE_FEATURES)
RESOLVE_STEPS = (-1, 0, 1, 2, 3)
RESOLVE_FEATURES = ("none", "before", "log_names_between", "log_distance", *(f"sentences_{d}" for d in RESOLVE_STEPS),
                    "per", "org", "comma_before", "adjacent", "log_salience", "spoke_before", "inside_a_quote",
                    "opens_sentence", *(f"speaker_{name}" for name in WORD_CLASS))


def vector(row: dict, names) -> list[float]:
    return [float(row.get(name, 0.0)) for name in names]


@dataclass
class Context:
    """One article as the features read it: its cues and quotes indexed by offset, and
    per-span answers cached (asked for many quotes)."""

    text: str
    sents: Sentences
    paragraphs: list[int]  # start offsets of paragraphs
    cues: SpanIndex
    quotes: SpanIndex
    use_scores: bool = False
    cache: dict = field(default_factory=dict)

    @classmethod
    def of(cls, text, cues, quotes, use_scores=False):
        starts = [0] + [m.end() for m in re.finditer(r"\n\s*", text)]
        return cls(text, Sentences(text), starts, SpanIndex(cues), SpanIndex(quotes), use_scores)

    def paragraph(self, offset: int) -> int:
        return bisect.bisect_right(self.paragraphs, offset) - 1

    def paragraph_offsets(self, first: int, last: int) -> tuple[float, float]:
        """The offsets whose paragraph index lies in [first, last]: [lo, hi)."""
        lo = self.paragraphs[first] if 0 < first < len(self.paragraphs) else (-math.inf if first <= 0 else math.inf)
        hi = self.paragraphs[last + 1] if 0 <= last + 1 < len(self.paragraphs) else (math.inf if last >= 0 else -math.inf)
        return lo, hi

    def _cached(self, key, compute):
        if key not in self.cache:
            self.cache[key] = compute()
        return self.cache[key]

    def cue_next_to(self, span: Mention) -> bool:
        return self._cached(("cue", span.start, span.end),
                            lambda: any(self._cue_beside(span, c) for c in self.cues.near(span.start, span.end, 25)))

    def _cue_beside(self, span: Mention, c: Mention) -> bool:
        """A cue within 25 characters of the span, in its paragraph, with no quotation mark between."""
        if not (c.start >= span.end or c.end <= span.start):
            return False
        gap = self.text[span.end:c.start] if c.start >= span.end else self.text[c.end:span.start]
        return len(gap) <= 25 and "\n" not in gap and not any(ch in gap for ch in "“”\"")

    def inside_quote(self, span: Mention) -> bool:
        return self._cached(("quote", span.start, span.end), lambda: bool(self.quotes.covering(span.start, span.end)))

    def holds_any(self, span: Mention, others: SpanIndex) -> bool:
        """Whether any of ``others`` lies inside ``span`` (a speaker phrase holding a name); asked once per span."""
        return self._cached(("holds", span.start, span.end), lambda: bool(others.within(span.start, span.end)))

    def inside_any(self, span: Mention, others: SpanIndex) -> bool:
        """Whether ``span`` lies inside any of ``others`` (a name within a speaker phrase); asked once per span."""
        return self._cached(("inside", span.start, span.end), lambda: bool(others.covering(span.start, span.end)))

    def own_cue(self, q: PredictedQuote) -> Optional[Mention]:
        """The quote's own cue (``cues.nearest_cue``), found once per quote."""
        return self._cached(("own cue", q.start, q.end), lambda: nearest_cue(q, self.cues, self.sents))

    def salience(self, names: SpanIndex, name: Optional[str]) -> int:
        """How many of the article's names share this surname (counted once per article)."""
        counts = self._cached(("salience",), lambda: Counter(surname(self.text, n) for n in names.spans))
        return counts[name]


class Spoken:
    """The speakers chosen so far in an article (names, or phrases with no name), asked
    of each later candidate name: did it, or anyone of its surname, speak before?"""

    def __init__(self, text: str):
        self.text = text
        self.spans: list[tuple[int, int]] = []  # sorted
        self.surnames: set = set()
        self.longest = 0

    def append(self, m: Mention) -> None:
        bisect.insort(self.spans, (m.start, m.end))
        self.longest = max(self.longest, m.end - m.start)
        self.surnames.add(surname(self.text, m))

    def spoke(self, e: Mention) -> bool:
        if surname(self.text, e) in self.surnames:
            return True
        i = bisect.bisect_left(self.spans, (e.end,)) - 1  # spans starting before e ends
        while i >= 0 and self.spans[i][0] > e.start - self.longest:
            if self.spans[i][1] > e.start:
                return True
            i -= 1
        return False


def word_class(text: str, prefix: str = "") -> dict:
    """What kind of mention a speaker is: pronoun, relative pronoun, description, name-ish."""
    words = lower_words(text)
    first, last = (words[0], words[-1]) if words else ("", "")
    one = len(words) == 1
    values = (one and first in PERSONAL_PRONOUNS, one and first in GROUP_PRONOUNS, one and first in RELATIVE_PERSON,
              one and first in RELATIVE_THING, first in DETERMINERS and len(words) > 1,
              last in PERSON_NOUNS or any(w in PERSON_NOUNS for w in words),
              last in ORG_NOUNS or any(w in ORG_NOUNS for w in words),
              bool(text[:1].isupper()) and first not in DETERMINERS, math.log1p(len(words)) / 3)
    return {prefix + name: float(v) for name, v in zip(WORD_CLASS, values)}


def _steps(value: int, steps, prefix: str) -> dict:
    """One-hot of ``value`` over the closed range of steps (clipped at both ends)."""
    value = min(max(value, steps[0]), steps[-1])
    return {f"{prefix}_{value}": 1.0}


def quote_features(ctx: Context, q: PredictedQuote, previous_speaker: Optional[Mention]) -> dict:
    return {f"quote_{q.kind}": 1.0, "quote_has_cue": float(ctx.own_cue(q) is not None),
            "quote_opens_paragraph": float(ctx.paragraph(q.start) != ctx.paragraph(max(q.start - 1, 0)) or q.start == 0),
            "has_previous_speaker": float(previous_speaker is not None)}


def speaker_row(ctx: Context, q: PredictedQuote, c: Optional[Mention], previous_speaker: Optional[Mention],
                is_speaker_span: bool, has_name: bool) -> list[float]:
    """The features of one (quote, candidate) pair; ``c`` None is the "no speaker" option."""
    row = quote_features(ctx, q, previous_speaker)
    if c is None:
        return vector(row | {"none": 1.0}, SPEAKER_FEATURES)
    q_first, q_last = ctx.sents.index(q.start), ctx.sents.index(max(q.end - 1, q.start))
    cs = ctx.sents.index(c.start)
    sentence_step = 0 if q_first <= cs <= q_last else (cs - q_first if cs < q_first else cs - q_last)
    before = c.end <= q.start
    gap = q.start - c.end if before else c.start - q.end
    between = ctx.quotes.count_starting_in(c.end, q.start) if before else ctx.quotes.count_starting_in(q.end, c.start)
    same_as_previous = previous_speaker is not None and previous_speaker.start < c.end and c.start < previous_speaker.end
    row |= {"before": float(before), "after": float(not before),
            **_steps(sentence_step, SENTENCE_STEPS, "sentences"),
            **_steps(ctx.paragraph(c.start) - ctx.paragraph(q.start), PARAGRAPH_STEPS, "paragraphs"),
            "log_gap": math.log1p(max(gap, 0)) / 8, "log_quotes_between": math.log1p(between),
            "is_speaker_span": float(is_speaker_span), "is_name_mention": float(not is_speaker_span),
            "per": float(c.label == "PER"), "org": float(c.label == "ORG"), "has_name": float(has_name),
            "cue_next_to": float(ctx.cue_next_to(c)), "spoke_previous_quote": float(same_as_previous),
            "inside_a_quote": float(ctx.inside_quote(c)), **word_class(ctx.text[c.start:c.end]),
            **cue_side(ctx, q, c),
            # The tagger's confidence counts only for a scorer fitted on predicted spans: on
            # gold spans it is always 1, and nothing could be learned of lower values.
            "tagger_score": c.score if ctx.use_scores else 0.0}
    return vector(row, SPEAKER_FEATURES)


def cue_side(ctx: Context, q: PredictedQuote, c: Mention) -> dict:
    """Whether the quote has a cue, and the candidate stands before it (the subject in
    "X told Y that ...") or after it (the addressee, or "said X")."""
    cue = ctx.own_cue(q)
    if cue is None:
        return {}
    return {"cue_of_quote": 1.0, "before_cue": float(c.end <= cue.start), "after_cue": float(c.start >= cue.end)}


def resolve_row(ctx: Context, s: Mention, e: Optional[Mention], names: SpanIndex, spoken: Spoken) -> list[float]:
    """The features of one (speaker phrase, name) pair; ``e`` None is the "none" option."""
    row = word_class(ctx.text[s.start:s.end], prefix="speaker_")
    if e is None:
        return vector(row | {"none": 1.0}, RESOLVE_FEATURES)
    before = e.end <= s.start
    lo, hi = (e.end, s.start) if before else (s.end, e.start)
    gap_text = ctx.text[e.end:s.start] if before else ""
    name = surname(ctx.text, e)
    row |= {"before": float(before),
            "log_names_between": math.log1p(names.count_within(lo, hi)),
            "log_distance": math.log1p(abs(s.start - e.end)) / 8,
            **_steps(ctx.sents.index(s.start) - ctx.sents.index(e.start), RESOLVE_STEPS, "sentences"),
            "per": float(e.label == "PER"), "org": float(e.label == "ORG"),
            "comma_before": float(before and len(gap_text) <= 3 and "," in gap_text),
            "adjacent": float(before and gap_text.strip() == ""),
            "log_salience": math.log1p(ctx.salience(names, name)),
            "spoke_before": float(spoken.spoke(e)),
            "inside_a_quote": float(ctx.inside_quote(e)),
            "opens_sentence": float(ctx.sents.index(e.start) != ctx.sents.index(max(e.start - 1, 0)))}
    return vector(row, RESOLVE_FEATURES)
