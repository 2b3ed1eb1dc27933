"""When a predicted quote or speaker counts as a gold one: the matching rules that
evaluation scores with and that the learned linker's training labels are read from.

* A predicted quote finds a gold quote when they share at least half of the words of
  each (``matched_quotes``), each predicted quote used once.
* A speaker is the gold one when it, or the name it resolves to, overlaps the gold
  speaker or the gold speaker's name, or both name the same surname.
"""
from __future__ import annotations

import re
from typing import Optional

from .text import split_words


POSSESSIVE = re.compile(r"['’]s$")
AROUND_A_NAME = ".,;:!?\"'’“”()[]"


def surname(text: str, span) -> Optional[str]:
    """The last word of a name, lower-cased, without a possessive or the punctuation around
    it: "Ruiz", "Ruiz's" and "Ruiz," are one surname. None when there is no word."""
    if span is None:
        return None
    words = text[span.start:span.end].split()
    word = POSSESSIVE.sub("", words[-1].lower()).strip(AROUND_A_NAME) if words else ""
    return word or None


def overlaps(a, b) -> bool:
    return a is not None and b is not None and a.start < b.end and b.start < a.end


def names_gold_speaker(text: str, gold, mentions) -> bool:
    """Whether ``mentions`` (a speaker and the name it resolves to; None where absent)
    are the gold quote's speaker: they overlap its speaker or that speaker's name, or
    share its surname. Spans need only ``start`` and ``end``."""
    if gold.speaker is None:
        return False
    if any(overlaps(g, p) for g in (gold.speaker, gold.speaker_entity) for p in mentions):
        return True
    gold_name = surname(text, gold.speaker_entity or gold.speaker)
    named = [m for m in mentions if m is not None]
    return gold_name is not None and bool(named) and surname(text, named[-1]) == gold_name


def same_speaker(text: str, gold, pred) -> bool:
    if gold.speaker is None:
        return pred.speaker is None
    return names_gold_speaker(text, gold, [pred.speaker, pred.speaker_entity])


def word_set(words, spans) -> set[int]:
    """Indices of the words that overlap any of the (start, end) spans."""
    out = set()
    for s, e in spans:
        out |= {i for i, (a, b) in enumerate(words) if a < e and b > s}
    return out


def best_match(words, gold, pred_word_sets: list[set[int]]) -> tuple[Optional[int], float]:
    """The predicted quote sharing most words with ``gold`` (as the share of the longer
    of the two), and that share; (None, 0.0) when none shares a word."""
    g_words = word_set(words, [(gold.start, gold.end)])
    best, best_ov = None, 0.0
    for i, pws in enumerate(pred_word_sets):
        shared = len(g_words & pws)
        ov = min(shared / max(len(g_words), 1), shared / max(len(pws), 1))
        if ov > best_ov:
            best, best_ov = i, ov
    return best, best_ov


def matched_quotes(text: str, gold: list, pred_spans) -> dict:
    """Predicted quote index → the gold quote it finds (≥ 50 % word overlap), each
    predicted quote used once, as attribution scoring counts them."""
    words = split_words(text)
    pred_sets = [word_set(words, [(p.start, p.end)]) for p in pred_spans]
    out = {}
    for gq in gold:
        best, ov = best_match(words, gq, pred_sets)
        if best is not None and ov >= 0.5 and best not in out:
            out[best] = gq
    return out
