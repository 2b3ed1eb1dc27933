"""The HTML view of tagged documents: one self-contained page that a person opens offline.

Owns how a Document looks in a browser: entities marked by type in the Okabe–Ito
palette (told apart by colour-blind readers too, and by underline style where colour
fails) with a legend; quote contents shaded by kind (direct / indirect / mixed); each
quote tied to its cue and speaker by a number they share and a hover title
("Q3 · direct · speaker: Ana Ruiz (she) · cue: said"), repeated in a list of the
document's quotes in the margin. The page carries its CSS inline and no script, font or
image; its Content-Security-Policy forbids loading any. Every piece of article text is
HTML-escaped.

Spans nest (an entity inside a speaker inside a quote) and may cross (a predicted entity
over a quote's end): the text is cut at every span boundary and each piece is wrapped in
the spans that cover it, outermost first; a span closed early for one that crossed it is
reopened, without its number, after it.

``page_head``, ``render_document`` and ``page_tail`` stream a page a document at a time
(``newstag predict --format html``); ``render_page`` is the three together.
"""
from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from html import escape
from typing import Iterable, Optional

from .document import Document, Quote, Span
from .pretty import name_index, speaker_name
from .spanindex import SpanIndex

# Okabe & Ito (2008), "Color Universal Design": eight colours that stay distinct under
# the common colour-vision deficiencies.
OKABE_ITO = {
    "orange": "#E69F00", "sky blue": "#56B4E9", "bluish green": "#009E73", "yellow": "#F0E442",
    "blue": "#0072B2", "vermillion": "#D55E00", "reddish purple": "#CC79A7", "black": "#000000",
}
# Entity type → (colour, underline style): the style tells the types apart without colour.
ENTITY_STYLES = {
    "PER": (OKABE_ITO["vermillion"], "solid"),
    "ORG": (OKABE_ITO["blue"], "double"),
    "LOC": (OKABE_ITO["bluish green"], "dashed"),
    "MISC": (OKABE_ITO["reddish purple"], "dotted"),
}
OTHER_ENTITY = (OKABE_ITO["black"], "solid")  # a label outside the default set (labels are configurable)
# Quote kind → shading: the three remaining light colours, none shared with an entity type.
KIND_SHADES = {"direct": OKABE_ITO["sky blue"], "indirect": OKABE_ITO["yellow"], "mixed": OKABE_ITO["orange"]}
PAGE_TITLE = "newstag: who is named and who said what"

# Which of two spans with the same extent is drawn outside the other.
_NESTING = {"quote": 0, "speaker": 1, "cue": 2, "ent": 3}
# A blank line: paragraphs are kept as paragraphs, single newlines inside them as line breaks.
_PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n\s*")


@dataclass
class Mark:
    """One span as it is drawn: where it lies, its CSS classes, hover title and number."""
    start: int
    end: int
    role: str  # quote, speaker, cue or ent
    classes: str
    title: str
    number: Optional[str] = None  # shared by a quote, its cue and its speaker ("1", or "1,2" for a shared cue)

    def opening(self, first: bool) -> str:
        number = f' data-n="{escape(self.number)}"' if first and self.number else ""
        return f'<span class="{self.classes}" title="{escape(self.title)}"{number}>'

    def nesting(self) -> tuple:
        return self.start, -self.end, _NESTING[self.role]


def _rgba(colour: str, alpha: float) -> str:
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r}, {g}, {b}, {alpha})"


def _css() -> str:
    entity_rules = "\n".join(
        f".ent-{label} {{ border-bottom: 3px {style} {colour}; background: {_rgba(colour, 0.10)}; }}"
        f" .sw-{label} {{ border-bottom: 3px {style} {colour}; }}"
        for label, (colour, style) in [*ENTITY_STYLES.items(), ("other", OTHER_ENTITY)])
    kind_rules = "\n".join(f".quote.{kind}, .sw-{kind} {{ background: {_rgba(colour, 0.35)}; }}"
                           for kind, colour in KIND_SHADES.items())
    return f"""
body {{ font: 16px/1.65 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1a1a1a; background: #fff;
       max-width: 76rem; margin: 0 auto; padding: 1rem 1.5rem 3rem; }}
h1 {{ font-size: 1.3rem; margin: .5rem 0; }}
h2 {{ font-size: 1rem; font-family: ui-monospace, monospace; color: #444; margin: 0 0 .5rem; }}
.legend {{ display: flex; flex-wrap: wrap; gap: .3rem 1.2rem; font-size: .85rem; padding: .5rem 0 1rem;
          border-bottom: 1px solid #bbb; }}
.legend span.sw {{ padding: 0 .3rem; }}
.doc {{ display: grid; grid-template-columns: minmax(0, 1fr); gap: 0 2rem; padding: 1.2rem 0;
       border-bottom: 1px solid #ddd; }}
@media (min-width: 60rem) {{ .doc {{ grid-template-columns: minmax(0, 3fr) minmax(14rem, 1fr); }}
                             .doc h2 {{ grid-column: 1 / -1; }} }}
.text p {{ white-space: pre-wrap; margin: 0 0 .9em; }}
.ent {{ padding-bottom: 1px; }}
{entity_rules}
.quote {{ -webkit-box-decoration-break: clone; box-decoration-break: clone; }}
{kind_rules}
.speaker {{ border: 1.5px solid #000; border-radius: 3px; padding: 0 1px; }}
.cue {{ border: 1.5px dashed #000; border-radius: 3px; padding: 0 1px; font-weight: 600; }}
[data-n]::before {{ content: attr(data-n); font: 700 .65em/1 system-ui, sans-serif; vertical-align: super;
                    color: #fff; background: #000; border-radius: .6em; padding: .1em .35em; margin-right: .15em; }}
.quotes {{ font-size: .85rem; }}
.quotes h3 {{ font-size: .9rem; margin: 0 0 .3rem; }}
.quotes ol {{ margin: 0; padding-left: 1.6rem; }}
.quotes li {{ margin-bottom: .5rem; }}
.quotes .said {{ display: block; color: #333; }}
"""


def _legend() -> str:
    entities = "".join(f'<span class="sw sw-{label}">{label}</span>' for label in ENTITY_STYLES)
    kinds = "".join(f'<span class="sw sw-{kind}">{kind} quote</span>' for kind in KIND_SHADES)
    return (f'<div class="legend">{entities}<span class="sw sw-other">other entity</span>{kinds}'
            '<span class="speaker">speaker</span><span class="cue">cue</span>'
            '<span>a number ties a quote to its cue and speaker; hover a span for details</span></div>')


def page_head(title: str = PAGE_TITLE) -> str:
    """The page up to its first document: styles, title and legend."""
    title = escape(title)
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
            f"<title>{title}</title>\n<style>{_css()}</style>\n</head>\n<body>\n"
            f"<header><h1>{title}</h1>\n{_legend()}</header>\n<main>\n")


def page_tail() -> str:
    return "</main>\n</body>\n</html>\n"


def render_page(docs: Iterable[Document], title: str = PAGE_TITLE) -> str:
    """One self-contained HTML page showing every document."""
    return page_head(title) + "".join(render_document(doc) for doc in docs) + page_tail()


def render_document(doc: Document) -> str:
    """One document as an HTML ``<section>``: its text with every span marked, and its quotes listed."""
    names = name_index(doc)
    said = [attribution(doc, q, names) for q in doc.quotes]
    return (f'<section class="doc">\n<h2>{escape(doc.id)}</h2>\n<div class="text">\n'
            f'{_marked_text(doc.text, _marks(doc, said))}</div>\n{_quotes_list(doc, said)}</section>\n')


def quote_title(doc: Document, number: int, quote: Quote) -> str:
    """"Q3 · direct · speaker: Ana Ruiz (she) · cue: said": the quote's number and attribution."""
    return f"Q{number} · {attribution(doc, quote)}"


def attribution(doc: Document, quote: Quote, names: Optional[SpanIndex] = None) -> str:
    """"direct · speaker: Ana Ruiz (she) · cue: said": the speaker by the name a reader knows
    (pretty.speaker_name), with the words that name them in the text when they differ."""
    name = speaker_name(doc, quote, names)
    if quote.speaker is not None and quote.speaker.text != name:
        name += f" ({quote.speaker.text})"
    parts = [quote.kind, f"speaker: {name}", f"cue: {quote.cue.text if quote.cue else '(none)'}"]
    if quote.score is not None:
        parts.append(f"score {quote.score:.2f}")
    if quote.speaker_score is not None:  # the linker's confidence in its choice of speaker (or of none)
        parts.append(f"speaker score {quote.speaker_score:.2f}")
    return " · ".join(parts)


def _marks(doc: Document, said: list[str]) -> list[Mark]:
    """Every span to draw, outermost first; ``said`` is each quote's ``attribution``."""
    marks = [_entity_mark(e.start, e.end, e.label, e.score) for e in doc.entities]
    # A cue or speaker shared by the parts of a split quote is one span carrying every part's number.
    parts: dict[tuple[str, int, int], list[tuple[int, str]]] = {}
    for n, (quote, attributed) in enumerate(zip(doc.quotes, said), 1):
        title = f"Q{n} · {attributed}"
        marks.append(Mark(quote.start, quote.end, "quote", f"quote {quote.kind}", title, str(n)))
        for role, span in (("cue", quote.cue), ("speaker", quote.speaker)):
            if span is not None:
                parts.setdefault((role, span.start, span.end), []).append((n, title))
    for (role, start, end), tied in parts.items():
        numbers = ",".join(str(n) for n, _ in tied)
        marks.append(Mark(start, end, role, role, " | ".join(title for _, title in tied), numbers))
    return sorted(marks, key=Mark.nesting)


def _entity_mark(start: int, end: int, label: str, score: Optional[float]) -> Mark:
    css = label if label in ENTITY_STYLES else "other"
    title = label if score is None else f"{label} · score {score:.2f}"
    return Mark(start, end, "ent", f"ent ent-{css}", title)


def _paragraphs(text: str) -> list[tuple[int, int]]:
    """(start, end) of each paragraph: the text between blank lines."""
    bounds, start = [], 0
    for gap in _PARAGRAPH_BREAK.finditer(text):
        bounds.append((start, gap.start()))
        start = gap.end()
    bounds.append((start, len(text)))
    return [(s, e) for s, e in bounds if e > s]


def _marked_text(text: str, marks: list[Mark]) -> str:
    """``text`` as paragraphs, each piece between two span boundaries escaped and wrapped in
    the marks that cover it. ``marks`` are sorted outermost first (``Mark.nesting``)."""
    paragraphs = _paragraphs(text)
    cuts = sorted({m.start for m in marks} | {m.end for m in marks} | {b for p in paragraphs for b in p})
    out: list[str] = []
    covering: list[Mark] = []  # the marks over the current piece, outermost first
    waiting = iter(marks)
    upcoming = next(waiting, None)
    numbered: set[int] = set()  # marks whose number is already shown (at their first piece)
    for start, end in paragraphs:
        out.append('<p dir="auto">')
        opened: list[Mark] = []
        for a, b in _pieces(cuts, start, end):
            while upcoming is not None and upcoming.start <= a:
                covering.append(upcoming)  # in nesting order: it starts at or after every mark before it
                upcoming = next(waiting, None)
            covering = [m for m in covering if m.end > a]
            keep = _common_prefix(opened, covering)
            out.append("</span>" * (len(opened) - keep))
            for m in covering[keep:]:
                out.append(m.opening(first=id(m) not in numbered))
                numbered.add(id(m))
            opened = list(covering)
            out.append(escape(text[a:b]))
        out.append("</span>" * len(opened) + "</p>\n")
    return "".join(out)


def _pieces(cuts: list[int], start: int, end: int) -> Iterable[tuple[int, int]]:
    """Consecutive (a, b) between the cuts that lie in [start, end]."""
    inside = cuts[bisect_left(cuts, start):bisect_right(cuts, end)]
    return zip(inside, inside[1:])


def _common_prefix(a: list[Mark], b: list[Mark]) -> int:
    n = 0
    while n < len(a) and n < len(b) and a[n] is b[n]:
        n += 1
    return n


def _quotes_list(doc: Document, said: list[str]) -> str:
    """The document's quotes, numbered as in the text: kind, speaker, cue, and what was said."""
    if not doc.quotes:
        return ""
    items = "".join(f'<li><span class="sw-{q.kind}">{escape(attributed)}</span>'
                    f'<span class="said">{escape(_clipped(q))}</span></li>\n' for q, attributed in zip(doc.quotes, said))
    return f'<aside class="quotes"><h3>Quotes</h3>\n<ol>\n{items}</ol></aside>\n'


def _clipped(span: Span, limit: int = 200) -> str:
    text = span.text or ""
    return text if len(text) <= limit else text[:limit].rstrip() + "…"
