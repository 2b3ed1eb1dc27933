"""Inline annotation markup, the form data/newswire is written in, compiled to JSONL.

A source file holds many articles. Each starts with a header line::

    ### nw-0001 | topic: diplomacy | style: agency

and its text follows, annotated inline:

* entities ``{PER Ana Kovač}``, ``{ORG Port Authority}``: label first, one space, then
  the mention exactly as it stands in the text;
* quotes ``<q1 direct>“...,”</q1>``, their cue ``<c1>said</c1>`` and speaker
  ``<s1>the minister</s1>``; the number ties the three together within the article.
  ``<s1 ref="Ana Kovač">she</s1>`` resolves a speaker that is not itself a name to the
  nearest entity mention with that exact text (preceding it, else following it).
  The same number on several ``<qN ...>`` spans makes several quote records with one
  cue and speaker: a quote split by its attribution, or a quote running over paragraphs.

Quote-layer tags never overlap one another; entity braces may sit inside them.
Everything outside the markup is kept byte for byte, so offsets are exact.
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..document import Document, Entity, Quote, Span
from ..labels import ENTITY_LABELS

HEADER = re.compile(r"^### +(\S+)(.*)$")
TOKEN = re.compile(r"\{([A-Z]+) |\}|<(/?)([qcs])(\d+)((?: +[a-z]+(?:=\"[^\"]*\")?)*) *>")


class MarkupError(ValueError):
    def __init__(self, path: str, line: int, message: str):
        self.path, self.line = path, line
        super().__init__(f"{path}:{line}: {message}")


@dataclass
class _Parts:
    """Quote-layer spans collected for one quote number."""

    contents: list[tuple[int, int, str, int]] = field(default_factory=list)  # start, end, kind, line
    cue: tuple[int, int] | None = None
    speaker: tuple[int, int] | None = None
    ref: str | None = None
    line: int = 0


def _attrs(raw: str) -> tuple[list[str], dict[str, str]]:
    flags, named = [], {}
    for m in re.finditer(r"([a-z]+)(?:=\"([^\"]*)\")?", raw):
        if m.group(2) is None:
            flags.append(m.group(1))
        else:
            named[m.group(1)] = m.group(2)
    return flags, named


def compile_article(doc_id: str, body: str, path: str = "<string>", first_line: int = 1, meta=None) -> Document:
    out: list[str] = []
    pos = 0  # position in the plain text being built
    src = 0  # position in body
    entities: list[Entity] = []
    open_entity: tuple[int, str, int] | None = None
    open_tag: tuple[str, str, int, list[str], dict, int] | None = None  # type, id, start, flags, named, line
    parts: dict[str, _Parts] = {}

    def line_at(i: int) -> int:
        return first_line + body.count("\n", 0, i)

    for m in TOKEN.finditer(body):
        chunk = body[src:m.start()]
        out.append(chunk)
        pos += len(chunk)
        src = m.end()
        ln = line_at(m.start())
        if m.group(1):  # entity opens
            if open_entity:
                raise MarkupError(path, ln, "entity opened inside another entity")
            if m.group(1) not in ENTITY_LABELS:
                raise MarkupError(path, ln, f"unknown entity label {m.group(1)!r} (known: {', '.join(ENTITY_LABELS)})")
            open_entity = (pos, m.group(1), ln)
        elif m.group(0) == "}":
            if not open_entity:
                raise MarkupError(path, ln, "'}' closes no entity")
            start, label, _ = open_entity
            if pos == start:
                raise MarkupError(path, ln, "empty entity")
            entities.append(Entity(start=start, end=pos, label=label))
            open_entity = None
        else:
            closing, typ, qid, raw = m.group(2) == "/", m.group(3), m.group(4), m.group(5)
            if not closing:
                if open_tag:
                    raise MarkupError(path, ln, f"<{typ}{qid}> opened inside <{open_tag[0]}{open_tag[1]}> (quote-layer spans never nest)")
                flags, named = _attrs(raw)
                open_tag = (typ, qid, pos, flags, named, ln)
                continue
            if not open_tag or (open_tag[0], open_tag[1]) != (typ, qid):
                raise MarkupError(path, ln, f"</{typ}{qid}> does not close the open tag")
            _, _, start, flags, named, oln = open_tag
            open_tag = None
            if pos == start:
                raise MarkupError(path, ln, f"empty <{typ}{qid}>")
            p = parts.setdefault(qid, _Parts(line=oln))
            if typ == "q":
                kinds = [f for f in flags if f in ("direct", "indirect", "mixed")]
                if len(kinds) != 1:
                    raise MarkupError(path, oln, f"<q{qid}> needs exactly one kind: direct, indirect or mixed")
                p.contents.append((start, pos, kinds[0], oln))
            elif typ == "c":
                if p.cue:
                    raise MarkupError(path, oln, f"quote {qid} has two cues")
                p.cue = (start, pos)
            else:
                if p.speaker:
                    raise MarkupError(path, oln, f"quote {qid} has two speakers")
                p.speaker, p.ref = (start, pos), named.get("ref")
    out.append(body[src:])
    if open_entity:
        raise MarkupError(path, open_entity[2], "entity never closed")
    if open_tag:
        raise MarkupError(path, open_tag[5], f"<{open_tag[0]}{open_tag[1]}> never closed")
    text = "".join(out)
    # Paragraph layout is kept, but the article does not start or end with blank lines.
    lead = len(text) - len(text.lstrip())
    text = text.strip()
    shift = lambda a, b: (a - lead, b - lead)  # noqa: E731
    entities = [Entity(start=e.start - lead, end=e.end - lead, label=e.label) for e in entities]

    quotes = []
    for qid, p in parts.items():
        if not p.contents:
            raise MarkupError(path, p.line, f"cue or speaker {qid} has no <q{qid}> content")
        speaker = Span(start=shift(*p.speaker)[0], end=shift(*p.speaker)[1]) if p.speaker else None
        cue = Span(start=shift(*p.cue)[0], end=shift(*p.cue)[1]) if p.cue else None
        resolved = None
        if p.ref is not None:
            if speaker is None:
                raise MarkupError(path, p.line, f"ref on quote {qid} without a speaker")
            resolved = _resolve(p.ref, speaker.start, entities, text)
            if resolved is None:
                raise MarkupError(path, p.line, f"ref={p.ref!r}: no entity mention with that exact text in the article")
        for start, end, kind, _ in p.contents:
            s, e = shift(start, end)
            quotes.append(Quote(start=s, end=e, kind=kind, cue=cue, speaker=speaker, speaker_entity=resolved))
    quotes.sort(key=lambda q: q.start)
    entities.sort(key=lambda e: e.start)
    try:
        return Document(id=doc_id, text=text, entities=entities, quotes=quotes, meta=meta or {})
    except ValueError as exc:  # a span that strip() cut into, e.g. markup around leading blanks
        raise MarkupError(path, first_line, str(exc)) from None


def _resolve(ref: str, at: int, entities: list[Entity], text: str) -> Span | None:
    named = [e for e in entities if text[e.start:e.end] == ref]
    before = [e for e in named if e.end <= at]
    pick = before[-1] if before else (named[0] if named else None)
    return Span(start=pick.start, end=pick.end) if pick else None


def parse_header(line: str) -> tuple[str, dict]:
    m = HEADER.match(line)
    meta = {}
    for part in m.group(2).split("|"):
        if ":" in part:
            k, v = part.split(":", 1)
            meta[k.strip()] = v.strip()
    return m.group(1), meta


def compile_file(path: str | Path) -> list[Document]:
    """Every article of a markup file; raises MarkupError at the first problem."""
    path = str(path)
    lines = Path(path).read_text(encoding="utf-8").split("\n")
    starts = [i for i, l in enumerate(lines) if HEADER.match(l)]
    if not starts:
        raise MarkupError(path, 1, "no '### id | ...' article header found")
    docs = []
    for k, i in enumerate(starts):
        end = starts[k + 1] if k + 1 < len(starts) else len(lines)
        doc_id, meta = parse_header(lines[i])
        body = "\n".join(lines[i + 1:end])
        docs.append(compile_article(doc_id, body, path, first_line=i + 2, meta=meta))
    return docs


def main(argv=None) -> int:
    """``python -m newstag.corpus.markup FILE...``: compile and print a one-line summary per file."""
    argv = argv if argv is not None else sys.argv[1:]
    bad = 0
    for f in argv:
        try:
            docs = compile_file(f)
        except MarkupError as exc:
            print(f"ERROR {exc}")
            bad += 1
            continue
        n_ent = sum(len(d.entities) for d in docs)
        n_q = sum(len(d.quotes) for d in docs)
        n_ind = sum(q.kind != "direct" for d in docs for q in d.quotes)
        words = sum(len(d.text.split()) for d in docs)
        print(f"{f}: {len(docs)} articles, {words} words, {n_ent} entities, {n_q} quotes ({n_ind} indirect/mixed)")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
