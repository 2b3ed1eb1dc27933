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
DOUBLE_QUOTES = "“”\"«»„"  # marks that never double as an apostrophe
SENTENCE_PUNCTUATION = ".,;:!?"

# A pair of quotation marks inside a content. Double marks pair whatever their shape,
# since news text mixes them ("more hours”); a straight single quote only opens after a
# non-word character and only closes before one, so apostrophes ("Clinton's") do not pair.
QUOTED_STRETCH = re.compile(r"[“\"][^“”\"]+[”\"]|‘[^’]+’|«[^»]+»|(?<!\w)'[^']+'(?!\w)")
# A stretch in double marks (or « », „ “), as the data checker reads speech inside reported speech.
DOUBLE_QUOTED = re.compile(r"[“\"«„]([^“”\"«»„]+)[”\"»]")


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
    opens, closes = s[0] in OPEN_QUOTES + "\"'", body[-1] in CLOSE_QUOTES + "\"'"
    if opens and closes and len(body) > 1:
        return "direct"
    if opens and ((s[0] == "“" and "”" not in s) or (s[0] == '"' and s.count('"') == 1)):
        return "direct"
    if closes and ((body[-1] == "”" and "“" not in s) or (body[-1] == '"' and s.count('"') == 1)):
        return "direct"
    return "mixed" if QUOTED_STRETCH.search(s) else "indirect"


def kind_problem(text: str, kind: str, ends_paragraph: bool = False) -> str | None:
    """Does an annotated kind disagree with the quotation marks? None when it agrees.

    A paragraph of a multi-paragraph quote opens a quotation mark and, by newswire
    convention, does not close it. A straight single quote is not taken as an opening
    or closing mark here: in annotated text it is far more often an apostrophe.
    """
    s = text.strip()
    if kind == "direct":
        if s[:1] not in OPEN_QUOTES + "\"":
            return "direct quote does not start with a quotation mark"
        if s.rstrip(".,;:")[-1:] not in CLOSE_QUOTES + "\"" and not ends_paragraph:
            return "direct quote does not end with a quotation mark (nor at a paragraph end)"
    elif kind == "indirect":
        # Quoted names (a campaign's title, a nickname) are not speech; quoted speech is.
        if any(not _is_title(q) for q in DOUBLE_QUOTED.findall(s)):
            return "indirect quote contains quoted words (mixed?)"
    elif kind == "mixed":
        if not any(ch in DOUBLE_QUOTES for ch in s) and "‘" not in s:
            return "mixed quote contains no quotation marks"
    return None


def _is_title(words: str) -> bool:
    tokens = [w for w in re.findall(r"[^\W\d_]+", words) if w.lower() not in ("and", "of", "the", "for", "to", "a", "in")]
    return bool(tokens) and all(w[0].isupper() for w in tokens)
