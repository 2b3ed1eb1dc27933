"""Properties that hold for any input: word splitting, the BIO encoding, window planning
and constrained decoding, checked on generated texts, spans, pieces and scores."""
import re
import unicodedata

import numpy as np
from hypothesis import given, settings, strategies as st

from newstag.alignment import WordPieces, plan_windows
from newstag.crf import bio_tags, viterbi
from newstag.text import bio_to_spans, spans_to_bio, split_words

FAST = settings(max_examples=150, deadline=None)
LABELS = ["PER", "ORG", "LOC"]


def attaches(ch: str) -> bool:
    """The characters that belong to the one before them, written out from the rule
    independently of text.py's compiled class."""
    cp = ord(ch)
    return (unicodedata.category(ch) in ("Mn", "Mc", "Me") or cp in (0x00AD, 0x200C, 0x200D)
            or 0xFE00 <= cp <= 0xFE0F or 0xE0100 <= cp <= 0xE01EF or 0x1F3FB <= cp <= 0x1F3FF)


# Pieces of text the generic generator rarely hits: marks alone and on letters (NFD,
# Yoruba, Devanagari, Brahmi above U+FFFF), RTL words and direction controls, ZWJ emoji
# sequences, skin tones, keycaps, variation selectors, soft hyphens, control characters,
# odd spaces.
PIECES = ["\u0308", "\u0301\u0323", "e\u0301", "Mu\u0308ller", "ọ̀", "हिन्दी", "\U00011013\U00011038", "مُحَمَّد",
          "שָׁלוֹם", "\u202e", "\u200f", "\u2067", "👩\u200d👩\u200d👧", "👍🏽", "\U0001F3FD", "#\ufe0f\u20e3", "\ufe0f",
          "\U000E0100", "\u200d", "\u200c", "\u00ad", "co\u00adop", "\x00", "\x1f", "\x85", " ", "\n\n", "\t",
          "\u00a0", "\u3000", "'s", "—", "9,600"]
# Any character but surrogates: tokenizers cannot take lone surrogates, so no text has them.
CHARACTERS = st.characters(exclude_categories=("Cs",))
TEXTS = st.lists(st.one_of(st.text(CHARACTERS, max_size=6), st.sampled_from(PIECES)), max_size=12).map("".join)


@FAST
@given(TEXTS)
def test_words_are_ordered_non_empty_and_separated_by_whitespace_only(text):
    words = split_words(text)
    prev_end = 0
    for s, e in words:
        assert prev_end <= s < e <= len(text)
        assert re.fullmatch(r"\s*", text[prev_end:s]), "a non-space character outside every word"
        assert not any(c.isspace() for c in text[s:e])
        prev_end = e
    assert re.fullmatch(r"\s*", text[prev_end:])


@FAST
@given(TEXTS)
def test_attached_characters_stay_with_what_they_attach_to(text):
    for s, e in split_words(text):
        assert e == len(text) or not attaches(text[e]), "a word ends right before a character attached to it"
        if attaches(text[s]):
            # Only a mark with nothing before it starts a word, and that word is marks only.
            assert s == 0 or text[s - 1].isspace()
            assert all(attaches(c) for c in text[s:e])


@FAST
@given(st.text(CHARACTERS.filter(lambda c: not attaches(c)), max_size=40))
def test_without_attached_characters_words_split_as_before(text):
    # As \w+|[^\w\s] splits, but a quotation mark written with two characters ('' or ``) is one word.
    assert split_words(text) == [m.span() for m in re.finditer(r"''|``|\w+|[^\w\s]", text)]


@st.composite
def words_and_spans(draw):
    """Words (possibly touching, as in "Kovač's") and non-crossing labelled runs of them."""
    words, pos = [], 0
    for length, gap in draw(st.lists(st.tuples(st.integers(1, 5), st.integers(0, 2)), max_size=30)):
        pos += gap
        words.append((pos, pos + length))
        pos += length
    spans, i = [], 0
    while i < len(words):
        run = draw(st.integers(1, 4))
        label = draw(st.one_of(st.none(), st.sampled_from(LABELS)))
        if label and i + run <= len(words):
            spans.append((i, i + run, label))
        i += run
    return words, spans


@FAST
@given(words_and_spans(), st.randoms(use_true_random=False))
def test_spans_round_trip_through_bio(words_spans, random):
    words, spans = words_spans
    char_spans = [(words[a][0], words[b - 1][1], label) for a, b, label in spans]
    random.shuffle(char_spans)  # spans_to_bio lays them in order itself
    assert bio_to_spans(spans_to_bio(words, char_spans)) == spans


@st.composite
def valid_bio(draw):
    tags = []
    for _ in range(draw(st.integers(0, 30))):
        options = ["O"] + [f"B-{x}" for x in LABELS] + ([f"I-{tags[-1][2:]}"] if tags and tags[-1] != "O" else [])
        tags.append(draw(st.sampled_from(options)))
    return tags


@FAST
@given(valid_bio())
def test_valid_bio_round_trips_through_spans(tags):
    words = [(2 * i, 2 * i + 1) for i in range(len(tags))]
    spans = [(words[a][0], words[b - 1][1], label) for a, b, label in bio_to_spans(tags)]
    assert spans_to_bio(words, spans) == tags


@st.composite
def pieces_and_sizes(draw):
    """Pieces as to_pieces makes them (0 to 3 subwords a word, in word order) and a window size."""
    word_of_piece, first = [], []
    for w, count in enumerate(draw(st.lists(st.integers(0, 3), max_size=400))):
        first.append(len(word_of_piece) if count else -1)
        word_of_piece += [w] * count
    body = draw(st.integers(1, 40))
    pieces = WordPieces([], [], [0] * len(word_of_piece), word_of_piece, first)
    return pieces, body + 2, draw(st.integers(0, body - 1))


def reference_plan(pieces, max_length, stride):
    """The straightforward planner: every window considered for every word, O(words × windows)."""
    body = max_length - 2
    n = len(pieces.input_ids)
    starts = [0]
    while starts[-1] + body < n:
        starts.append(starts[-1] + body - stride)
    windows = [(s, min(s + body, n), []) for s in starts]
    for w, p in enumerate(pieces.first_piece):
        if p >= 0:
            best = max((win for win in windows if win[0] <= p < win[1]), key=lambda win: min(p - win[0], win[1] - 1 - p))
            best[2].append(w)
    return windows


@settings(max_examples=300, deadline=None)
@given(pieces_and_sizes())
def test_planning_matches_the_straightforward_planner(case):
    windows = plan_windows(*case)
    assert [(w.start, w.end, w.owned) for w in windows] == reference_plan(*case)


@FAST
@given(pieces_and_sizes())
def test_every_word_with_a_subword_is_owned_exactly_once(case):
    pieces, max_length, stride = case
    windows = plan_windows(pieces, max_length, stride)
    owned = sorted(w for win in windows for w in win.owned)
    assert owned == [w for w, p in enumerate(pieces.first_piece) if p >= 0]
    for win in windows:
        assert win.end - win.start <= max_length - 2
        assert all(win.start <= pieces.first_piece[w] < win.end for w in win.owned)


@st.composite
def scores(draw):
    tags = bio_tags(LABELS[:draw(st.integers(1, 3))])
    n = draw(st.integers(0, 12))
    cell = st.floats(-30, 0, allow_nan=False)
    log_probs = np.array(draw(st.lists(st.lists(cell, min_size=len(tags), max_size=len(tags)),
                                       min_size=n, max_size=n)), dtype=float).reshape(n, len(tags))
    transitions = None
    if draw(st.booleans()):
        # Large rewards included: no transition score may buy a forbidden step.
        big = st.one_of(st.floats(-20, 20, allow_nan=False), st.just(1e6))
        transitions = np.array(draw(st.lists(big, min_size=len(tags) ** 2, max_size=len(tags) ** 2)),
                               dtype=float).reshape(len(tags), len(tags))
    return log_probs, tags, transitions


@FAST
@given(scores())
def test_decoding_never_puts_inside_after_outside_or_another_label(case):
    log_probs, tags, transitions = case
    path = [tags[i] for i in viterbi(log_probs, tags, transitions)]
    assert len(path) == len(log_probs)
    for prev, tag in zip(["O"] + path, path):
        if tag.startswith("I-"):
            assert prev in (f"B-{tag[2:]}", f"I-{tag[2:]}"), path
