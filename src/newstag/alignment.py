"""From words to subword windows and back.

An article of any length becomes overlapping windows of at most ``max_length``
subword tokens (``stride`` of them shared between neighbours). Each word is labelled at
its first subword, and at prediction time each word takes its scores from the window
in which that first subword sits furthest from an edge (its best-centred window), so
no word is judged without context on both sides when one exists.
"""
from __future__ import annotations

from dataclasses import dataclass

from .crf import IGNORE
from .text import split_words, word_shapes


@dataclass
class WordPieces:
    """An article as words (character offsets), their shapes, and its subword tokens."""

    words: list[tuple[int, int]]
    shapes: list[int]
    input_ids: list[int]
    word_of_piece: list[int]  # for each subword, the index of its word (rising: subwords come in word order)
    first_piece: list[int]  # for each word, the index of its first subword, or -1 if it has none


def to_pieces(tokenizer, text: str, words=None) -> WordPieces:
    words = split_words(text) if words is None else words
    strings = [text[s:e] for s, e in words]
    if strings:
        enc = tokenizer(strings, is_split_into_words=True, add_special_tokens=False, verbose=False)
        ids, word_ids = enc["input_ids"], enc.word_ids()
    else:
        ids, word_ids = [], []
    first = [-1] * len(words)
    for p, w in enumerate(word_ids):
        if first[w] < 0:
            first[w] = p
    return WordPieces(words, word_shapes(text, words), list(ids), list(word_ids), first)


@dataclass
class Window:
    start: int  # first subword of the window (in the article's subword sequence)
    end: int  # exclusive
    owned: list[int]  # words whose predictions come from this window


def plan_windows(pieces: WordPieces, max_length: int, stride: int) -> list[Window]:
    """Overlapping windows over the subwords; each word with a subword is owned by the first
    window in which its first subword is best centred."""
    body = max_length - 2  # room for [CLS] and [SEP]
    if not 0 <= stride < body:  # a negative stride would leave pieces in no window
        raise ValueError(f"stride ({stride}) must be at least 0 and smaller than max_length - 2 ({body})")
    n = len(pieces.input_ids)
    starts = [0]
    while starts[-1] + body < n:
        starts.append(starts[-1] + body - stride)
    windows = [Window(s, min(s + body, n), []) for s in starts]
    # Window k owns the words whose first subword lies in [bounds[k], bounds[k + 1]).
    bounds = [0] + [_handover(a, b) for a, b in zip(windows, windows[1:])] + [n]
    for win, lo, hi in zip(windows, bounds, bounds[1:]):
        win.owned = _words_starting_in(pieces, lo, hi)
    return windows


def _words_starting_in(pieces: WordPieces, lo: int, hi: int) -> list[int]:
    """The words whose first subword lies in [lo, hi), in order.

    Subwords come in word order, so these are the distinct words of the subwords in
    [lo, hi) except the first one if it began before lo. Slicing and dict.fromkeys walk
    the subwords in C, not in a Python step per word: planning is O(subwords + windows)
    and costs the same per word in one long article as in many short ones.
    """
    words = list(dict.fromkeys(pieces.word_of_piece[lo:hi]))
    if words and pieces.first_piece[words[0]] < lo:
        del words[0]
    return words


def _handover(a: Window, b: Window) -> int:
    """The first subword that is better centred in window b than in a, b's predecessor.

    A subword p's margin in a window is its distance to the nearer edge. b gives p the
    larger margin exactly when p lies closer to a's end than to b's start
    (a.end - 1 - p < p - b.start): then a's margin is at most a.end - 1 - p, below both of
    p's distances in b (b ends later); otherwise b's margin is at most p - b.start, which
    is at most both of p's distances in a (a starts earlier). So the handover lies just
    past the middle of the overlap. Handovers rise with the windows, so p's margin rises
    up to the first window whose handover p has not reached and never rises after it:
    that window is p's first best-centred one.
    """
    return (a.end - 1 + b.start) // 2 + 1


def window_inputs(pieces: WordPieces, window: Window, cls_id: int, sep_id: int) -> dict:
    """Model inputs for one window; ``word_index[i]`` is the word labelled at position i, or -1."""
    ids = [cls_id] + pieces.input_ids[window.start:window.end] + [sep_id]
    word_index = [-1] * len(ids)
    shape_ids = [0] * len(ids)
    for p in range(window.start, window.end):
        w = pieces.word_of_piece[p]
        if pieces.first_piece[w] == p:
            word_index[p - window.start + 1] = w
            shape_ids[p - window.start + 1] = pieces.shapes[w]
    return {"input_ids": ids, "shape_ids": shape_ids, "word_index": word_index}


def collate(rows: list[dict], pad_id: int, device) -> dict:
    """Window rows padded to the longest of them, as tensors on ``device``: input ids, shape ids,
    an attention mask, and (where the rows carry them) labels and word indices."""
    import torch

    width = max(len(r["input_ids"]) for r in rows)

    def pad(key, value):
        return torch.tensor([r[key] + [value] * (width - len(r[key])) for r in rows], device=device)

    batch = {"input_ids": pad("input_ids", pad_id), "shape_ids": pad("shape_ids", 0)}
    batch["attention_mask"] = torch.tensor(
        [[1] * len(r["input_ids"]) + [0] * (width - len(r["input_ids"])) for r in rows], device=device)
    for key, value in (("entities", IGNORE), ("quotes", IGNORE), ("word_index", -1)):
        if key in rows[0]:
            batch[key] = pad(key, value)
    return batch
