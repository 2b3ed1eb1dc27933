"""Quotation marks, and the rules that read a quote's kind off them.

One set of marks serves the word shapes (text.py), the cue rules (linking), the brat
reader's kind inference and the data checker's kind check. A quote is *direct* when
its content is a quotation, *mixed* when reported speech holds a quoted stretch, and
*indirect* otherwise.
"""
from __future__ import annotations

import re

OPEN_QUOTES = "“‘«„"
CLOSE_QUOTES = "”’»"
STRAIGHT_QUOTES = "\"'`"
QUOTE_MARKS = OPEN_QUOTES + CLOSE_QUOTES + STRAIGHT_QUOTES
SENTENCE_PUNCTUATION = ".,;:!?"
# Archive and treebank text writes a double quotation mark with two characters: ``Yes,''
# in treebank style, ''Yes,'' in some newspaper archives. Each pair is one mark (one word).
DOUBLED_OPEN_QUOTE, DOUBLED_STRAIGHT_QUOTE = "``", "''"

# A pair of quotation marks inside a content. Double marks pair whatever their shape,
# since news text mixes them ("more hours”); a straight single quote only opens after a
# non-word character and only closes before one, so apostrophes ("Clinton's") do not pair.
QUOTED_STRETCH = re.compile(r"[“\"][^“”\"]+[”\"]|‘[^’]+’|«[^»]+»|(?<!\w)'[^']+'(?!\w)")


def infer_quote_kind(content: str) -> str:
    """direct, mixed or indirect, read off the quotation marks of a content span.

    * direct: it opens with a quotation mark and closes with one (sentence punctuation
      may follow the closing mark), or it is one half of a quote split by its
      attribution: it opens with a double quotation mark that is never closed, or closes
      one that was never opened;
    * mixed: a quoted stretch stands somewhere inside otherwise reported speech;
    * indirect: no quotation marks pair up.
    Scare quotes inside indirect speech count as mixed: marks cannot tell them apart.
    """
    s = content.strip()
    if not s:
        return "indirect"
    body = s.rstrip(SENTENCE_PUNCTUATION) or s
    opens, closes = s[0] in OPEN_QUOTES + STRAIGHT_QUOTES, body[-1] in CLOSE_QUOTES + "\"'"
    if opens and closes and len(body) > 1:
        return "direct"
    if opens and ((s[0] == "“" and "”" not in s) or (s[0] == '"' and s.count('"') == 1)):
        return "direct"
    if closes and ((body[-1] == "”" and "“" not in s) or (body[-1] == '"' and s.count('"') == 1)):
        return "direct"
    return "mixed" if QUOTED_STRETCH.search(s) else "indirect"


def kind_problem(text: str, kind: str, ends_paragraph: bool = False) -> str | None:
    """Why an annotated kind disagrees with the kind its marks say (``infer_quote_kind``),
    or None when it agrees. Two things marks cannot tell are allowed: a paragraph of a
    multi-paragraph quote opens a quotation mark and, by newswire convention, does not
    close it; and a quoted title or name inside reported speech ("the “Blue Line” plan")
    is not a quotation.
    """
    s = text.strip()
    inferred = infer_quote_kind(s)
    if kind == inferred:
        return None
    if kind == "direct":
        if s[:1] not in OPEN_QUOTES + STRAIGHT_QUOTES:
            return "direct quote does not start with a quotation mark"
        return None if ends_paragraph else "direct quote does not end with a quotation mark (nor at a paragraph end)"
    if kind == "indirect":
        quoted = [m.group()[1:-1] for m in QUOTED_STRETCH.finditer(s)]
        return None if all(_is_title(q) for q in quoted) else "indirect quote contains quoted words (mixed?)"
    if inferred == "indirect":
        return "mixed quote contains no quotation marks"
    return None  # a mixed quote that happens to open and close with marks


def _is_title(words: str) -> bool:
    tokens = [w for w in re.findall(r"[^\W\d_]+", words) if w.lower() not in ("and", "of", "the", "for", "to", "a", "in")]
    return bool(tokens) and all(w[0].isupper() for w in tokens)
