"""Label Studio JSON export in, and predictions out as pre-annotations for review, with the
labelling config (``label_studio_config.xml``, shipped beside this module) that defines
every label the pre-annotations use."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Optional

from ..document import LAYERS, QUOTE_KINDS, Document, Entity, FormatError, Quote, Span

QUOTE_LABEL, CUE_LABEL, SPEAKER_LABEL = "QUOTE", "CUE", "SPEAKER"
# A speaker's referent that is not itself a mention of the entity layer.
REFERENT_LABEL = "REFERENT"
REFERS_TO = "refers_to"
_PART_LABELS = (QUOTE_LABEL, CUE_LABEL, SPEAKER_LABEL, REFERENT_LABEL)
# The labelling config that matches what ``write_label_studio`` writes, shipped with the package.
CONFIG_PATH = Path(__file__).with_name("label_studio_config.xml")


def label_studio_config() -> str:
    """The Label Studio labelling config (XML) for newstag's tasks: paste it into a project's
    Labeling Interface, then import the tasks ``newstag predict --format label-studio`` writes."""
    return CONFIG_PATH.read_text(encoding="utf-8")


def _json_array_items(raw: str, path: str) -> list[tuple[int, object]]:
    """(line, item) for each item of a top-level JSON array, so errors can name a line."""
    decoder = json.JSONDecoder()
    items: list[tuple[int, object]] = []
    i = len(raw) - len(raw.lstrip())
    if raw[i:i + 1] != "[":
        raise FormatError(path, raw.count("\n", 0, i) + 1, "tasks", "expected a JSON list of tasks (Label Studio JSON export)")
    i += 1
    while True:
        while i < len(raw) and raw[i] in " \t\r\n,":
            i += 1
        if raw[i:i + 1] == "]" or i >= len(raw):
            return items
        line = raw.count("\n", 0, i) + 1
        try:
            item, i = decoder.raw_decode(raw, i)
        except json.JSONDecodeError as exc:
            raise FormatError(path, exc.lineno, "json", f"not valid JSON ({exc.msg} at column {exc.colno})") from None
        items.append((line, item))


def _from_utf16(text: str, units: int) -> int:
    """Character index of a UTF-16 code-unit offset (older Label Studio counted those)."""
    count = 0
    for index, ch in enumerate(text):
        if count >= units:
            return index
        count += 2 if ord(ch) > 0xFFFF else 1
    return len(text)


def _ls_offsets(text: str, value: dict, path: str, line: int, field: str) -> tuple[int, int]:
    """Character offsets of a region, checked against its ``text`` where the export has one.

    Label Studio before ~1.6 counted UTF-16 code units, so after an emoji its offsets are
    off; if the code-point reading disagrees with the region text and the UTF-16 reading
    agrees, the latter is used.
    """
    try:
        start, end = int(value["start"]), int(value["end"])
    except (KeyError, TypeError, ValueError):
        raise FormatError(path, line, field, "a labels region needs integer start and end") from None
    given = value.get("text")
    if given is None or text[start:end] == given:
        if not 0 <= start < end <= len(text):
            raise FormatError(path, line, field, f"offsets {start}-{end} are empty or outside the text ({len(text)} chars)")
        return start, end
    s16, e16 = _from_utf16(text, start), _from_utf16(text, end)
    if text[s16:e16] == given:
        return s16, e16
    raise FormatError(path, line, field, f"text {given!r} != text[{start}:{end}] {text[start:end]!r}")


def _relation_slot(a: dict, b: dict) -> Optional[tuple[dict, str, dict]]:
    """(region that holds the link, slot, linked region) for a relation between two regions.

    Direction does not matter (annotators draw arrows both ways): the regions' labels say
    what the link means. A relation between two entity regions is not ours (None).
    """
    for x, y in ((a, b), (b, a)):
        if x["part"] == QUOTE_LABEL and y["part"] == CUE_LABEL:
            return x, "cue", y
        if x["part"] == QUOTE_LABEL and y["part"] == SPEAKER_LABEL:
            return x, "speaker", y
        if x["part"] == SPEAKER_LABEL and y["part"] in (None, REFERENT_LABEL):
            return x, "referent", y
    if a["part"] in (None, REFERENT_LABEL) and b["part"] in (None, REFERENT_LABEL):
        return None
    raise ValueError(f"cannot read a relation between {a['part']} and {b['part']}")


def _task_to_document(task, path: str, line: int, index: int, layers: Optional[list[str]]) -> Optional[Document]:
    at = f"tasks[{index}]"
    data = task.get("data") if isinstance(task, dict) else None
    text = data.get("text") if isinstance(data, dict) else None
    if not isinstance(text, str):
        raise FormatError(path, line, f"{at}.data.text", "every task needs its text in data.text")
    annotations = [(k, a) for k, a in enumerate(task.get("annotations") or []) if not a.get("was_cancelled")]
    if annotations:
        k, chosen = annotations[0]
        at = f"{at}.annotations[{k}]"
    elif task.get("predictions"):
        chosen, at = task["predictions"][0], f"{at}.predictions[0]"
    else:
        return None  # not annotated
    regions: dict[str, dict] = {}
    kinds: dict[str, str] = {}
    relations = []
    for k, result in enumerate(chosen.get("result") or []):
        field, value = f"{at}.result[{k}]", result.get("value") or {}
        if result.get("type") == "labels":
            start, end = _ls_offsets(text, value, path, line, f"{field}.value")
            labels = list(value.get("labels") or [])
            parts = [lab.upper() for lab in labels if lab.upper() in _PART_LABELS]
            if len(parts) > 1:
                raise FormatError(path, line, f"{field}.value.labels", f"one region cannot be {' and '.join(parts)}")
            regions[result.get("id")] = {
                "span": (start, end), "part": parts[0] if parts else None, "score": result.get("score"),
                "kind": next((lab.lower() for lab in labels if lab.lower() in QUOTE_KINDS), None),
                "labels": [lab for lab in labels if lab.upper() not in _PART_LABELS and lab.lower() not in QUOTE_KINDS],
                "cue": None, "speaker": None, "referent": None,
                "speaker_score": result.get("speaker_score"),  # a QUOTE's: P(its speaker, or none, is right)
            }
        elif result.get("type") == "choices":  # a per-region choice, sharing the region's id
            kind = next((c.lower() for c in value.get("choices") or [] if c.lower() in QUOTE_KINDS), None)
            if kind:
                kinds[result.get("id")] = kind
        elif result.get("type") == "relation":
            relations.append((field, result))
    for field, rel in relations:
        ends = [regions.get(rel.get("from_id")), regions.get(rel.get("to_id"))]
        if None in ends:
            raise FormatError(path, line, field,
                              f"relation between unknown regions {rel.get('from_id')!r}, {rel.get('to_id')!r}")
        try:
            link = _relation_slot(*ends)
        except ValueError as exc:
            raise FormatError(path, line, field, str(exc)) from None
        if link is None:
            continue
        holder, slot, target = link
        if holder[slot] is not None and holder[slot] is not target:
            raise FormatError(path, line, field, f"a {holder['part']} region linked to two {slot}s")
        holder[slot] = target
    entities, quotes = [], []

    def span_of(region, scored=True):
        if region is None:
            return None
        return Span(start=region["span"][0], end=region["span"][1], score=region["score"] if scored else None)

    for rid, region in regions.items():
        start, end = region["span"]
        for label in region["labels"]:
            if region["part"] != REFERENT_LABEL:
                entities.append(Entity(start=start, end=end, label=label, score=region["score"]))
        if region["part"] == QUOTE_LABEL:
            speaker = region["speaker"]
            quotes.append(Quote(
                start=start, end=end, kind=kinds.get(rid) or region["kind"] or "indirect", score=region["score"],
                cue=span_of(region["cue"]), speaker=span_of(speaker), speaker_score=region["speaker_score"],
                # A resolved name carries no score of its own (it may be an entity region, scored as one).
                speaker_entity=span_of(speaker["referent"], scored=False) if speaker else None,
            ))
    doc_id = data.get("doc_id") or (str(task["id"]) if "id" in task else f"{Path(path).name}#{index + 1}")
    return Document(id=str(doc_id), text=text, layers=layers or data.get("layers") or list(LAYERS),
                    entities=entities, quotes=quotes, meta=data.get("meta") or {})


def read_label_studio(path: str | Path, layers: Optional[list[str]] = None) -> list[Document]:
    """Documents from a Label Studio JSON export (a list of tasks).

    Each task gives one Document from its first annotation that was not cancelled, else
    its first prediction (pre-annotations, such as ``write_label_studio`` makes); a task
    with neither was not annotated and is left out. Regions (``labels`` results) labelled
    QUOTE, CUE or SPEAKER make the quote layer; every other label is an entity label
    (PER, ORG, LOC, MISC). A QUOTE's kind is a second label (direct, indirect, mixed) or a
    per-region ``choices`` result, else indirect. Relations, in either direction, tie a
    QUOTE to its CUE and SPEAKER, and a SPEAKER to the entity (or REFERENT region) it
    refers to. A region's ``score`` is its span's score; a QUOTE region's ``speaker_score``
    is the quote's. The document id is ``data.doc_id``, else
    the task id. ``layers`` says what the project annotated; by default ``data.layers``,
    else both.
    """
    path = str(path)
    with open(path, encoding="utf-8") as fh:
        raw = fh.read()
    docs = []
    for index, (line, task) in enumerate(_json_array_items(raw, path)):
        doc = _task_to_document(task, path, line, index, layers)
        if doc is not None:
            docs.append(doc)
    return docs


def document_to_task(doc: Document, model_version: str = "newstag") -> dict:
    """One Document as a Label Studio task whose spans are a prediction (see ``write_label_studio``)."""
    results: list[dict] = []
    linked: set[tuple[str, str]] = set()

    def region(rid: str, span: Span, labels: list[str], score: Optional[float] = None) -> str:
        result = {"id": rid, "from_name": "label", "to_name": "text", "type": "labels",
                  "value": {"start": span.start, "end": span.end, "text": doc.text[span.start:span.end], "labels": labels}}
        if score is not None:
            result["score"] = score
        results.append(result)
        return rid

    def relate(from_id: str, to_id: str, labels: list[str]) -> None:
        if (from_id, to_id) not in linked:
            linked.add((from_id, to_id))
            results.append({"type": "relation", "from_id": from_id, "to_id": to_id, "direction": "right", "labels": labels})

    entity_ids: dict[tuple[int, int], str] = {}
    for i, e in enumerate(doc.entities):
        entity_ids.setdefault((e.start, e.end), region(f"e{i}", e, [e.label], e.score))
    # A cue or speaker shared by the parts of a split quote is one region linked to each.
    parts: dict[tuple, str] = {}

    def part(label: str, span: Span, *extra, score: Optional[float] = None) -> str:
        key = (label, span.start, span.end, *extra)
        if key not in parts:
            parts[key] = region(f"{label[0].lower()}{len(parts)}", span, [label], score)
        return parts[key]

    for i, q in enumerate(doc.quotes):
        qid = region(f"q{i}", q, [QUOTE_LABEL, q.kind], q.score)
        if q.speaker_score is not None:  # the linker's confidence in its choice, a speaker or none: no span's
            results[-1]["speaker_score"] = q.speaker_score
        if q.cue:
            relate(qid, part(CUE_LABEL, q.cue, score=q.cue.score), [])
        if q.speaker:
            referent = (q.speaker_entity.start, q.speaker_entity.end) if q.speaker_entity else None
            sid = part(SPEAKER_LABEL, q.speaker, referent, score=q.speaker.score)
            relate(qid, sid, [])
            if q.speaker_entity:
                target = entity_ids.get(referent) or part(REFERENT_LABEL, q.speaker_entity)
                relate(sid, target, [REFERS_TO])
    prediction = {"model_version": model_version, "result": results}
    scores = [s.score for _, s in doc.spans() if s.score is not None]
    scores += [q.speaker_score for q in doc.quotes if q.speaker_score is not None]
    if scores:
        prediction["score"] = min(scores)  # the least certain span or speaker decides what to review first
    return {"data": {"text": doc.text, "doc_id": doc.id, "layers": list(doc.layers), "meta": doc.meta},
            "predictions": [prediction]}


def write_label_studio(docs: Iterable[Document], path: str | Path, model_version: str = "newstag") -> int:
    """Write Documents as Label Studio tasks whose spans are predictions (pre-annotations).

    Annotators then correct the model instead of starting from nothing, and
    ``read_label_studio`` reads the file back to the same Documents. Region labels are
    those ``read_label_studio`` reads (from_name ``label``, to_name ``text``); a speaker
    whose referent is no entity mention links to a REFERENT region. Scores go with their
    regions, a quote's speaker_score with its QUOTE region, and the least of them
    is the prediction's score (Label Studio sorts by it). The labelling config
    ``CONFIG_PATH`` defines every label used. Offsets are code points, as current Label
    Studio counts them. Returns the number of tasks written.
    """
    from ..files import atomic_write

    tasks = [document_to_task(doc, model_version) for doc in docs]
    with atomic_write(path) as fh:
        json.dump(tasks, fh, ensure_ascii=False, indent=1)
        fh.write("\n")
    return len(tasks)
