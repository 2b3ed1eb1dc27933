"""Words, their shapes, sentences, and the BIO encoding of character spans over words.

The model labels *words*; every word carries its character offsets into the caller's
text, so any span built from words indexes the original string exactly. Words are
split finely (punctuation on its own, "Kovač's" → Kovač ' s) so that annotated span
boundaries fall between words, but never between a character and what attaches to it:
combining marks, joiners, variation selectors, skin-tone modifiers and soft hyphens
stay with the letter or symbol before them (decomposed "Müller" is one word, a
family emoji one symbol). Text without such characters splits as ``\\w+|[^\\w\\s]``.
"""
from __future__ import annotations

import bisect
import math
import itertools
import re
import unicodedata
from typing import Iterable, Sequence

from .quotemarks import CLOSE_QUOTES, DOUBLED_OPEN_QUOTE, DOUBLED_STRAIGHT_QUOTE, OPEN_QUOTES, STRAIGHT_QUOTES

ZWJ = "\u200d"
# Characters that belong to the one before them besides the combining marks: ZWNJ, ZWJ,
# the soft hyphen, variation selectors and the emoji skin-tone modifiers.
JOINERS = (0x00AD, 0x200C, 0x200D, *range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0), *range(0x1F3FB, 0x1F400))
# Unicode places combining marks only in planes 0, 1 and 14 (tests check this against the
# whole code space of this Python's Unicode version); scanning just those takes ~50 ms at
# import instead of ~0.4 s.
MARK_PLANES = (range(0x20000), range(0xE0000, 0xE1000))


def _class_body(code_points: Iterable[int]) -> str:
    """A regex character-class body listing sorted code points as escaped runs (a-b)."""
    runs = []
    for _, run in itertools.groupby(enumerate(code_points), key=lambda x: x[1] - x[0]):
        cps = [cp for _, cp in run]
        runs.append(f"\\U{cps[0]:08x}" + (f"-\\U{cps[-1]:08x}" if len(cps) > 1 else ""))
    return "".join(runs)


def _attaching_classes() -> tuple[str, str]:
    """Class bodies of the code points that attach to the character before them: those
    below U+10000, and those above."""
    marks = {cp for cp in itertools.chain(*MARK_PLANES) if unicodedata.category(chr(cp)) in ("Mn", "Mc", "Me")}
    attaching = sorted(marks.union(JOINERS))
    return (_class_body(cp for cp in attaching if cp <= 0xFFFF),
            _class_body(cp for cp in attaching if cp > 0xFFFF))


_BMP, _ASTRAL_BODY = _attaching_classes()
# re looks characters up in a class by table below U+10000 but tries ranges above it one
# by one (some 200 here), so the astral ones are tried only on an astral character:
# otherwise every word's end would pay for the scan (split_words 2.4 times slower).
_ASTRAL = f"(?=[\\U00010000-\\U0010ffff])[{_ASTRAL_BODY}]"
_ATTACHED_RUN = f"[{_BMP}]*(?:{_ASTRAL}[{_BMP}]*)*"  # attached characters, possibly none
ATTACHING = re.compile(f"[{_BMP}]|{_ASTRAL}")
# A two-character quotation mark ('' or ``) is one word, so no span starts inside it.
_DOUBLED = f"{DOUBLED_STRAIGHT_QUOTE}|{DOUBLED_OPEN_QUOTE}"
# A word is a word character and then word and attached characters. A symbol is any
# other non-space character with its attached characters, and after a ZWJ the next
# symbol joins it (emoji sequences: 👩‍👩‍👧). Attached characters with nothing before them
# (at the start or after a space) make a word of their own, so none is lost or empty.
# A text without attached characters matches as \w+|[^\w\s] did, but for those two-character marks.
_SYMBOL = f"(?!{_ASTRAL})[^\\w\\s{_BMP}]{_ATTACHED_RUN}"
WORD = re.compile(f"{_DOUBLED}|\\w[\\w{_BMP}]*(?:{_ASTRAL}[\\w{_BMP}]*)*"
                  f"|{_SYMBOL}(?:(?<={ZWJ}){_SYMBOL})*"
                  f"|(?:[{_BMP}]|{_ASTRAL})+")
SENTENCE_END = re.compile(rf"[.!?]+(?:{DOUBLED_STRAIGHT_QUOTE}|[”\"’'])?(?=\s+(?:{_DOUBLED}|[“\"‘'(\[])?[A-Z0-9À-Ý])|\n\s*\n")
# A full stop after these does not end a sentence: titles that stand before a name
# ("Rep. Gwen Moore said"), and single letters (initials, "U.S. officials"). Splitting
# there would put a speaker and its cue in a different sentence from the quote.
NAME_TITLES = {"Mr", "Mrs", "Ms", "Mx", "Dr", "Prof", "Rep", "Reps", "Sen", "Sens", "Gov", "Gen", "Lt", "Col", "Maj",
               "Capt", "Sgt", "Cpl", "Adm", "Cmdr", "Rev", "Hon", "St", "Supt", "Det", "Insp", "Atty", "Amb", "Pres"}
WORD_BEFORE = re.compile(r"(?<!\w)(\w+)$")


# Word shapes give an uncased encoder the casing back (and mark the things it cannot
# see: quotation marks that it may map to [UNK], and paragraph starts, since a
# tokenizer drops newlines). Index 0 is padding.
SHAPES = ("<pad>", "lower", "title", "upper", "mixed", "digit", "alnum", "open_quote",
          "close_quote", "straight_quote", "dash", "punct", "other")
SHAPE_INDEX = {s: i for i, s in enumerate(SHAPES)}
N_SHAPES = len(SHAPES) * 2  # times two: the word starts a paragraph or it does not
LETTER_OR_DIGIT_SHAPES = frozenset(SHAPE_INDEX[s] for s in ("lower", "title", "upper", "mixed", "digit", "alnum"))


def has_letters_or_digits(shapes: Sequence[int]) -> bool:
    """Whether any word of these shape ids (``word_shapes``) is more than marks and symbols."""
    return any(s // 2 in LETTER_OR_DIGIT_SHAPES for s in shapes)


LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def lone_surrogate(text: str) -> str | None:
    """Where ``text`` holds a lone surrogate ("U+D83D at offset 2"), or None. Valid in a
    Python string and in JSON ("\\ud83d"), but not text a tokenizer can read."""
    m = LONE_SURROGATE.search(text)
    return None if m is None else f"U+{ord(m.group()):04X} at offset {m.start()}"


def split_words(text: str) -> list[tuple[int, int]]:
    """(start, end) of each word: a run of word characters or one symbol, marks included."""
    return [(m.start(), m.end()) for m in WORD.finditer(text)]


def _base_shape(w: str) -> str:
    # Attached marks are not letters (str.isalpha is False for "Mu\u0308ller"): judge the
    # casing on the word without them, unless nothing else is left.
    if not w.isascii():  # no ASCII character attaches; isascii costs nothing
        w = ATTACHING.sub("", w) or w
    if w.isalpha():
        if w.islower():
            return "lower"
        if w.isupper():
            return "upper"
        if w[0].isupper() and w[1:].islower():
            return "title"
        return "mixed"
    if w.isdigit():
        return "digit"
    if w.isalnum() or "_" in w:
        return "alnum"
    if w in OPEN_QUOTES or w == DOUBLED_OPEN_QUOTE:
        return "open_quote"
    if w in CLOSE_QUOTES:
        return "close_quote"
    if w in STRAIGHT_QUOTES or w == DOUBLED_STRAIGHT_QUOTE:
        return "straight_quote"
    if w in "-–—":
        return "dash"
    if len(w) == 1 and not w.isalnum():
        return "punct"
    return "other"


def word_shapes(text: str, words: Sequence[tuple[int, int]]) -> list[int]:
    """A shape id per word: its casing class, doubled when a blank line precedes it."""
    shapes, prev_end = [], 0
    for start, end in words:
        gap = text[prev_end:start]
        paragraph_start = prev_end == 0 or "\n" in gap
        shapes.append(SHAPE_INDEX[_base_shape(text[start:end])] * 2 + int(paragraph_start))
        prev_end = end
    return shapes


def sentence_bounds(text: str) -> list[tuple[int, int]]:
    """Rough sentence spans (start, end) covering the text: enough for linking and reports."""
    bounds, start = [], 0
    for m in SENTENCE_END.finditer(text):
        if _abbreviation_stop(text, m):
            continue
        if not text[start:m.end()].strip() and bounds:  # a blank line right after a full stop
            bounds[-1] = (bounds[-1][0], m.end())
        else:
            bounds.append((start, m.end()))
        start = m.end()
    if start < len(text):
        bounds.append((start, len(text)))
    return bounds


def _abbreviation_stop(text: str, m: re.Match) -> bool:
    """Whether a sentence-end match is a lone full stop after a title or an initial."""
    if m.group() != ".":
        return False
    before = WORD_BEFORE.search(text, max(m.start() - 12, 0), m.start())
    return before is not None and (before.group(1) in NAME_TITLES or (len(before.group(1)) == 1 and before.group(1).isupper()))


class Sentences:
    """Sentence and paragraph lookup by character offset (bisect over sentence starts)."""

    def __init__(self, text: str):
        self.bounds = sentence_bounds(text)
        self.starts = [b[0] for b in self.bounds]
        self.text = text
        self.newlines = [m.start() for m in re.finditer("\n", text)]

    def index(self, offset: int) -> int:
        return max(bisect.bisect_right(self.starts, offset) - 1, 0)

    def span(self, start: int, end: int) -> range:
        """Indices of the sentences a span [start, end) touches."""
        return range(self.index(start), self.index(max(end - 1, start)) + 1)

    def offsets(self, first: int, last: int) -> tuple[float, float]:
        """The offsets whose sentence index lies in [first, last]: [lo, hi) (open at the ends
        of the text, where ``index`` clamps)."""
        lo = self.starts[first] if 0 < first < len(self.starts) else (-math.inf if first <= 0 else math.inf)
        hi = self.starts[last + 1] if 0 <= last + 1 < len(self.starts) else (math.inf if last >= 0 else -math.inf)
        return lo, hi

    def paragraph_of(self, offset: int) -> tuple[int, int]:
        """The [start, end) of the line holding ``offset``, by bisection over the newlines."""
        i = bisect.bisect_left(self.newlines, offset)
        start = self.newlines[i - 1] + 1 if i > 0 else 0
        end = self.newlines[i] if i < len(self.newlines) else len(self.text)
        return start, end


def spans_to_bio(words: Sequence[tuple[int, int]], spans: Iterable[tuple[int, int, str]]) -> list[str]:
    """BIO tags over words; a word belongs to a span when it overlaps it.

    Spans are laid in order of start; a later span never overwrites an earlier one's
    words (spans within one layer do not cross in valid data).
    """
    tags = ["O"] * len(words)
    starts = [w[0] for w in words]
    for s, e, label in sorted(spans):
        i = max(bisect.bisect_right(starts, s) - 1, 0)
        first = True
        while i < len(words) and words[i][0] < e:
            if words[i][1] > s and tags[i] == "O":
                tags[i] = ("B-" if first else "I-") + label
                first = False
            i += 1
    return tags


def bio_to_spans(tags: Sequence[str]) -> list[tuple[int, int, str]]:
    """Word-index spans (first, last_exclusive, label) of a valid or invalid BIO sequence.

    An I- that does not continue a span of its label starts a new one (seqeval's lenient
    reading); the decoder never produces such sequences, gold data might.
    """
    spans, cur = [], None
    for i, t in enumerate(list(tags) + ["O"]):
        if cur and not (t.startswith("I-") and t[2:] == cur[2]):
            spans.append((cur[0], i, cur[2]))
            cur = None
        if t.startswith("B-") or (t.startswith("I-") and cur is None):
            cur = (i, None, t[2:])
    return spans
