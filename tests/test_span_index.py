"""SpanIndex answers what a scan of every span would, by bisection: the linkers ask it
for every quote, so linking stays linear in article length."""
from dataclasses import dataclass

from hypothesis import given, settings, strategies as st

from newstag.spanindex import SpanIndex


@dataclass(frozen=True)
class Sp:
    start: int
    end: int


spans = st.lists(st.tuples(st.integers(0, 60), st.integers(1, 12)).map(lambda t: Sp(t[0], t[0] + t[1])), max_size=25)
offsets = st.integers(-5, 80)


@settings(max_examples=300, deadline=None)
@given(spans, offsets, offsets)
def test_every_answer_equals_a_scan_of_all_spans(items, a, b):
    index = SpanIndex(items)
    lo, hi = min(a, b), max(a, b)
    in_order = sorted(items, key=lambda s: (s.start, s.end))
    assert index.starting_in(lo, hi) == [s for s in in_order if lo <= s.start < hi]
    assert index.count_starting_in(lo, hi) == len(index.starting_in(lo, hi))
    assert index.within(lo, hi) == [s for s in in_order if lo <= s.start and s.end <= hi]
    assert index.count_within(lo, hi) == len(index.within(lo, hi))
    assert index.covering(lo, hi) == [s for s in in_order if s.start <= lo and hi <= s.end]
    assert index.last(hi, lo=lo) == ([s for s in in_order if lo <= s.start < hi] or [None])[-1]
    assert index.first(lo, hi) == ([s for s in in_order if lo <= s.start < hi] or [None])[0]
    assert index.ending_by(hi, 3) == [s for s in in_order if s.end <= hi][-3:]
    near = set(index.near(lo, hi, 4))
    assert all(s in near for s in items if abs(s.start - lo) <= 4 or abs(s.end - hi) <= 4 or lo <= s.start < hi)
