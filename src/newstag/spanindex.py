"""Span lookup by character offset, so that work over every span of an article stays linear in its length.

A ``SpanIndex`` holds one kind of span (cues, speaker phrases, names, quotes) sorted by
start and answers the questions the linkers, the speaker naming (pretty.py) and the
quote archive ask of every quote — which spans start in a
range, the last before or the first after an offset, which lie inside or around a span —
by bisection instead of a scan of the whole article. Spans may overlap one another (gold
data is checked, predictions are not): the longest span bounds how far back a span that
covers an offset can start, which keeps every answer exact.
"""
from __future__ import annotations

import bisect
from typing import Callable, Generic, Iterable, Optional, TypeVar

S = TypeVar("S")  # anything with .start and .end


class SpanIndex(Generic[S]):
    def __init__(self, spans: Iterable[S]):
        self.spans: list[S] = sorted(spans, key=lambda s: (s.start, s.end))
        self.starts = [s.start for s in self.spans]
        self.longest = max((s.end - s.start for s in self.spans), default=0)

    def __len__(self) -> int:
        return len(self.spans)

    def starting_in(self, lo: int, hi: int) -> list[S]:
        """Spans with lo <= start < hi, in text order."""
        return self.spans[bisect.bisect_left(self.starts, lo):bisect.bisect_left(self.starts, hi)]

    def count_starting_in(self, lo: int, hi: int) -> int:
        return max(bisect.bisect_left(self.starts, hi) - bisect.bisect_left(self.starts, lo), 0)

    def within(self, lo: int, hi: int) -> list[S]:
        """Spans lying inside [lo, hi)."""
        return [s for s in self.starting_in(lo, hi) if s.end <= hi]

    def count_within(self, lo: int, hi: int) -> int:
        """How many spans lie inside [lo, hi): those starting in it, less the few that run past ``hi``."""
        over = sum(1 for s in self.starting_in(max(lo, hi - self.longest), hi) if s.end > hi)
        return self.count_starting_in(lo, hi) - over

    def covering(self, start: int, end: int) -> list[S]:
        """Spans that hold [start, end) whole."""
        return [s for s in self.starting_in(end - self.longest, start + 1) if s.end >= end]

    def near(self, start: int, end: int, reach: int) -> list[S]:
        """Spans that start, or end, within ``reach`` characters of [start, end)."""
        return self.starting_in(start - reach - self.longest, end + reach + 1)

    def last(self, before: int, lo: int = -1, where: Callable[[S], bool] = lambda s: True) -> Optional[S]:
        """The last span (by start) that starts in [lo, before) and satisfies ``where``."""
        i = bisect.bisect_left(self.starts, before) - 1
        while i >= 0 and self.starts[i] >= lo:
            if where(self.spans[i]):
                return self.spans[i]
            i -= 1
        return None

    def first(self, after: int, hi: int | float = float("inf"), where: Callable[[S], bool] = lambda s: True) -> Optional[S]:
        """The first span (by start) that starts in [after, hi) and satisfies ``where``."""
        i = bisect.bisect_left(self.starts, after)
        while i < len(self.spans) and self.starts[i] < hi:
            if where(self.spans[i]):
                return self.spans[i]
            i += 1
        return None

    def ending_by(self, offset: int, count: int) -> list[S]:
        """Up to ``count`` spans that end at or before ``offset``, the nearest ones, in text order."""
        out, i = [], bisect.bisect_left(self.starts, offset) - 1
        while i >= 0 and len(out) < count:
            if self.spans[i].end <= offset:
                out.append(self.spans[i])
            i -= 1
        return out[::-1]
