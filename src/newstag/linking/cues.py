"""Which cue a quote reports, for both linkers.

A quote's cue is the nearest cue in its own sentence(s), outside the quote
(``nearest_cue``); failing that, the cue across the sentence boundary it stands
against (``adjacent_cue``).
"""
from __future__ import annotations

from typing import Optional

from ..quotemarks import QUOTE_MARKS
from ..text import Sentences
from ..spanindex import SpanIndex
from .spans import Mention, PredictedQuote


def distance(a, b) -> int:
    """Characters between two spans (0 when they touch or overlap)."""
    return max(b.start - a.end, a.start - b.end, 0)


def nearest_cue(q: PredictedQuote, cues: SpanIndex, sents: Sentences) -> Optional[Mention]:
    """The quote's own cue: the nearest cue in the quote's sentence(s), outside the quote."""
    first, last = sents.index(q.start), sents.index(max(q.end - 1, q.start))
    return nearest_outside(q, cues, *sents.offsets(first, last))


def nearest_outside(q, spans: SpanIndex, lo: float, hi: float):
    """The span starting in [lo, hi), and not inside the quote, nearest to it (the earlier
    one on a tie): the nearest before it and the first after it are all there is to compare."""
    before = spans.last(q.start, lo=lo)
    near = spans.starting_in(max(lo, before.end - spans.longest), q.start) if before else []
    after = spans.first(q.end, hi)
    return min(near + ([after] if after else []), key=lambda c: distance(q, c), default=None)


def adjacent_cue(q: PredictedQuote, cues: SpanIndex, quotes: SpanIndex, sents: Sentences) -> Optional[Mention]:
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
        lo, hi = sents.offsets(first - 1, first - 1)
        before = cues.last(min(hi, q.start), lo=lo, where=lambda c: c.end <= q.start)
        if before and _joined(text, before.end, q.start, quotes, q):
            return before
    sentence_end = sents.bounds[last][1]
    closes_sentence = not text[q.end:sentence_end].strip(blank)
    if closes_sentence and text[q.start:sentence_end].rstrip(blank).endswith(("?", "!")):
        lo, hi = sents.offsets(last + 1, last + 1)
        after = cues.first(max(lo, q.end), hi)
        if after and _joined(text, q.end, after.start, quotes, q):
            return after
    return None


def _joined(text: str, start: int, end: int, quotes: SpanIndex, q: PredictedQuote) -> bool:
    """Whether the gap [start, end) ties a quote to a cue: one paragraph (or a colon and
    a paragraph break, "reports:¶“…”") and no other quote inside it."""
    gap = text[start:end]
    same_paragraph = "\n" not in gap or gap.lstrip().startswith(":")
    return same_paragraph and not any(o is not q for o in quotes.starting_in(start, end))
