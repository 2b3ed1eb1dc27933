"""Token-tagged input: CoNLL column files and Hugging Face datasets, one path to a Document.

Both arrive as tokens with one entity tag each; ``tokens_to_document`` joins the tokens
into readable text (one space between tokens, a newline between sentences) so that every
entity offset is exact, and reads IOB1, IOB2 and IOBES alike.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

from ..document import Document, Entity, FormatError

DOCUMENT_SENTENCES = 100  # a CoNLL file without -DOCSTART- is cut into documents this long


def _map_label(label: str, label_map: Optional[dict]) -> Optional[str]:
    """Rename a label; a label mapped to None is dropped (returns None)."""
    if label_map and label in label_map:
        return label_map[label]
    return label


class _TagError(ValueError):
    def __init__(self, index: int, message: str):
        self.index = index
        super().__init__(message)


def _tag_spans(tags: list[str]) -> list[tuple[str, int, int]]:
    """(label, first token, end token exclusive) for each entity in a tag sequence.

    One rule reads IOB1, IOB2 and IOBES alike: an entity starts at ``B-``/``S-``, or at
    an ``I-``/``E-`` that does not continue an entity of the same type. IOB1 puts ``I-``
    at the start of an entity and ``B-`` only between two adjacent same-type entities,
    so both schemes give the same spans without having to be told which one a file uses.
    """
    spans: list[list] = []
    current: Optional[list] = None
    for i, tag in enumerate(tags):
        if tag == "O":
            current = None
            continue
        prefix, dash, label = tag.partition("-")
        if not dash or not label or prefix not in ("B", "I", "E", "S"):
            raise _TagError(i, f"tag {tag!r} is neither O nor B-, I-, E-, S- followed by a label")
        if current is not None and current[0] == label and prefix in ("I", "E"):
            current[2] = i + 1
        else:
            current = [label, i, i + 1]
            spans.append(current)
        if prefix in ("E", "S"):
            current = None
    return [tuple(s) for s in spans]


def tokens_to_document(
    doc_id: str,
    sentences: list[list[str]],
    sentence_tags: list[list[str]],
    label_map: Optional[dict] = None,
    *,
    path: Optional[str] = None,
    lines: Optional[list[list[int]]] = None,
) -> Document:
    """A Document from tokenised sentences and their entity tags.

    Tokens are joined by one space and sentences by ``"\\n"``, so the text is readable
    and every entity offset is exact. ``meta["sentences"]`` keeps each sentence's
    ``[start, end]`` so sentence-level models can cut the text back up. ``path`` and
    ``lines`` (the line, or row, of every token) only serve to locate errors.
    """
    where = path or doc_id

    def line_of(s: int, k: int) -> int:
        if lines is not None and k < len(lines[s]):
            return lines[s][k]
        return s + 1

    if len(sentences) != len(sentence_tags):
        raise FormatError(where, 0, "tags", f"{len(sentence_tags)} tag sequences for {len(sentences)} sentences")
    pieces: list[str] = []
    bounds: list[list[int]] = []
    entities: list[Entity] = []
    pos = 0
    for s, (tokens, tags) in enumerate(zip(sentences, sentence_tags)):
        if len(tokens) != len(tags):
            raise FormatError(where, line_of(s, 0), "tags", f"{len(tags)} tags for {len(tokens)} tokens")
        if s:
            pos += 1  # the "\n" between sentences
        starts = []
        for k, token in enumerate(tokens):
            if not token:
                raise FormatError(where, line_of(s, k), f"tokens[{k}]", "empty token")
            starts.append(pos)
            pos += len(token) + 1
        sentence = " ".join(tokens)
        pos = (starts[0] if starts else pos) + len(sentence)
        bounds.append([pos - len(sentence), pos])
        pieces.append(sentence)
        try:
            spans = _tag_spans(list(tags))
        except _TagError as exc:
            raise FormatError(where, line_of(s, exc.index), f"tags[{exc.index}]", str(exc)) from None
        for label, i, j in spans:
            label = _map_label(label, label_map)
            if label is not None:
                entities.append(Entity(start=starts[i], end=starts[j - 1] + len(tokens[j - 1]), label=label))
    return Document(id=doc_id, text="\n".join(pieces), layers=["entities"], entities=entities,
                    meta={"sentences": bounds})


def _columns(line: str) -> list[str]:
    """CoNLL columns: split on spaces and tabs only, so a token may hold other whitespace."""
    return [c for c in re.split(r"[ \t]+", line.strip(" \t\r\n")) if c]


def read_conll(path: str | Path, tag_column: int = -1, label_map: Optional[dict] = None) -> list[Document]:
    """Documents of a CoNLL-2003-style column file (token first, NER tag in ``tag_column``).

    ``-DOCSTART-`` lines separate documents and blank lines separate sentences. A file
    without ``-DOCSTART-`` has no document boundaries to keep, so it is cut every
    ``DOCUMENT_SENTENCES`` sentences: documents stay a size a model can take whole.
    Document ids are ``<file name>#<n>``, counting from 1.
    """
    path = Path(path)
    documents: list[list[list[tuple[int, str, str]]]] = []  # document > sentence > (line, token, tag)
    document: list[list[tuple[int, str, str]]] = []
    sentence: list[tuple[int, str, str]] = []
    saw_docstart = False
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            cols = _columns(line)
            if cols and cols[0] != "-DOCSTART-":
                if len(cols) < 2:
                    raise FormatError(str(path), lineno, "columns", "a token line needs a token and a tag")
                try:
                    tag = cols[tag_column]
                except IndexError:
                    raise FormatError(str(path), lineno, f"column {tag_column}",
                                      f"the line has only {len(cols)} columns") from None
                sentence.append((lineno, cols[0], tag))
                continue
            if sentence:
                document.append(sentence)
                sentence = []
            if cols:  # -DOCSTART-
                saw_docstart = True
                if document:
                    documents.append(document)
                document = []
    if sentence:
        document.append(sentence)
    if document:
        documents.append(document)
    if not saw_docstart:
        whole = [s for d in documents for s in d]
        documents = [whole[i:i + DOCUMENT_SENTENCES] for i in range(0, len(whole), DOCUMENT_SENTENCES)]
    return [
        tokens_to_document(
            f"{path.name}#{n}",
            [[tok for _, tok, _ in s] for s in doc],
            [[tag for _, _, tag in s] for s in doc],
            label_map,
            path=str(path),
            lines=[[ln for ln, _, _ in s] for s in doc],
        )
        for n, doc in enumerate(documents, 1)
    ]


def _class_label_names(feature) -> Optional[list[str]]:
    """Tag names of a sequence-of-ClassLabel feature (``Sequence``, ``List`` or ``[ClassLabel]``)."""
    import datasets

    inner = feature[0] if isinstance(feature, list) and feature else getattr(feature, "feature", None)
    return list(inner.names) if isinstance(inner, datasets.ClassLabel) else None


def read_hf_dataset(
    name_or_path: str | Path,
    split: str = "train",
    tokens_column: str = "tokens",
    tags_column: str = "ner_tags",
    label_names: Optional[list[str]] = None,
    label_map: Optional[dict] = None,
) -> list[Document]:
    """One Document per row of a token-classification dataset.

    A path that exists is read with ``datasets.load_from_disk`` (a saved ``Dataset``, or
    a ``DatasetDict`` from which ``split`` is taken); anything else is a hub name for
    ``datasets.load_dataset``. Tag ids become names through the column's ``ClassLabel``
    feature, or ``label_names`` where the dataset has none (or names them wrongly); string
    tags are used as they are. Errors give the row index as the line. Ids are
    ``<name>#<row>`` (``<name>:<split>#<row>`` when a split was picked).
    """
    import datasets

    where = str(name_or_path)
    base = Path(where).name or where
    if Path(where).exists():
        data = datasets.load_from_disk(where)
        if isinstance(data, datasets.DatasetDict):
            if split not in data:
                raise FormatError(where, 0, "split", f"no split {split!r}; the dataset has {sorted(data)}")
            data, base = data[split], f"{base}:{split}"
    else:
        data, base = datasets.load_dataset(where, split=split), f"{base}:{split}"
    for column in (tokens_column, tags_column):
        if column not in data.column_names:
            raise FormatError(where, 0, column, f"no such column; the dataset has {data.column_names}")
    names = list(label_names) if label_names is not None else _class_label_names(data.features[tags_column])
    docs = []
    for row, record in enumerate(data):
        tokens, tags = list(record[tokens_column]), list(record[tags_column])
        if any(not isinstance(t, str) for t in tags):
            if names is None:
                raise FormatError(where, row, tags_column,
                                  "tag ids need names: the column is not a ClassLabel sequence; pass label_names")
            for k, t in enumerate(tags):
                if not isinstance(t, int) or not 0 <= t < len(names):
                    raise FormatError(where, row, f"{tags_column}[{k}]", f"tag id {t!r} has no name ({len(names)} names)")
            tags = [names[t] for t in tags]
        docs.append(tokens_to_document(f"{base}#{row}", [tokens], [tags], label_map,
                                       path=where, lines=[[row] * len(tokens)]))
    return docs
