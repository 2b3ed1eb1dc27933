"""newstag Documents as spaCy Docs, so that displaCy and spaCy pipelines take newstag's output.

Owns the mapping: entities become ``doc.ents``; quotes become the span group
``doc.spans["quotes"]``, each Span labelled with its kind and carrying, as extension
attributes, ``span._.kind``, ``span._.cue``, ``span._.speaker``, ``span._.speaker_entity``
(newstag's own character offsets, ``(start, end)`` tuples or None: plain values, so they
survive a DocBin; ``doc.char_span(*span._.speaker)`` gives the Span) and ``span._.score``.
``doc._.id`` is the document's id. A DocBin (``write_docbin``) is what
``newstag predict --format spacy`` writes.

spaCy is an optional extra (``pip install 'newstag[spacy]'``): this module imports it, and
nothing in newstag imports this module until spaCy output is asked for.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Iterable, Optional

import spacy
from spacy.tokens import Doc, DocBin, Span
from spacy.util import filter_spans

from ..document import Document

QUOTES_KEY = "quotes"  # the span group that holds the quotes
QUOTE_ATTRIBUTES = ("kind", "cue", "speaker", "speaker_entity", "score")


def _register_extensions() -> None:
    """The extension attributes, registered once per process (spaCy keeps them globally)."""
    for name in QUOTE_ATTRIBUTES:
        if not Span.has_extension(name):
            Span.set_extension(name, default=None)
    if not Doc.has_extension("id"):
        Doc.set_extension("id", default=None)


_register_extensions()  # at import: a DocBin read back in this process finds them


@lru_cache(maxsize=1)
def _blank_english():
    return spacy.blank("en")


def to_spacy(doc: Document, nlp=None) -> Doc:
    """``doc`` as a spaCy Doc tokenized by ``nlp``'s tokenizer (a blank English pipeline
    by default; no model is needed, and no component of ``nlp`` is run, so an article
    longer than ``nlp.max_length``, a limit for the parser's memory, is taken whole).

    A span keeps its exact characters wherever a token boundary falls on both its ends,
    as in ordinary text; where one falls inside a token ("Ana" in "Anastasia") the span
    grows to the whole tokens (``alignment_mode="expand"``), and the quote attributes
    still hold newstag's exact offsets. Overlapping entities, which ``doc.ents`` cannot
    hold, keep the longest (spaCy's ``filter_spans``).
    """
    sdoc = (nlp or _blank_english()).tokenizer(doc.text)  # not make_doc: see max_length above
    sdoc._.id = doc.id
    entities = [_token_span(sdoc, e.start, e.end, e.label) for e in doc.entities]
    sdoc.ents = filter_spans([e for e in entities if e is not None])
    quotes = []
    for quote in doc.quotes:
        span = _token_span(sdoc, quote.start, quote.end, quote.kind)
        if span is None:
            continue
        span._.kind, span._.score = quote.kind, quote.score
        for part in ("cue", "speaker", "speaker_entity"):
            given = getattr(quote, part)
            setattr(span._, part, (given.start, given.end) if given is not None else None)
        quotes.append(span)
    sdoc.spans[QUOTES_KEY] = quotes
    return sdoc


def _token_span(sdoc: Doc, start: int, end: int, label: str) -> Optional[Span]:
    """The tokens at exactly [start, end), else the fewest tokens that cover it; None for a
    span of whitespace only, which no token covers."""
    return (sdoc.char_span(start, end, label=label)
            or sdoc.char_span(start, end, label=label, alignment_mode="expand"))


def to_docbin(docs: Iterable[Document], nlp=None) -> DocBin:
    """A DocBin of the documents, extension attributes included (``store_user_data``)."""
    docbin = DocBin(store_user_data=True)
    for doc in docs:
        docbin.add(to_spacy(doc, nlp))
    return docbin


def write_docbin(docs: Iterable[Document], path: str | Path, nlp=None) -> int:
    """Write the documents as a ``.spacy`` DocBin, atomically; the number written. Read it
    back with ``DocBin().from_disk(path).get_docs(nlp.vocab)``."""
    from ..files import atomic_write

    docbin = to_docbin(docs, nlp)
    with atomic_write(path, "wb") as fh:
        fh.write(docbin.to_bytes())
    return len(docbin)
