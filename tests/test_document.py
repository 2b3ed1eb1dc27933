"""The interchange format is validated on load; errors name file, line and field."""
import json

import pytest

from newstag.document import Document, FormatError, parse_line, read_jsonl, write_jsonl, iter_jsonl


def test_text_of_spans_is_filled_in_and_checked():
    doc = Document.model_validate({"id": "a", "text": "Ana spoke.", "entities": [{"start": 0, "end": 3, "label": "PER"}]})
    assert doc.entities[0].text == "Ana"
    with pytest.raises(ValueError, match="text"):
        Document.model_validate({"id": "a", "text": "Ana spoke.", "entities": [{"start": 0, "end": 3, "label": "PER", "text": "Bob"}]})


@pytest.mark.parametrize("record, field", [
    ({"id": "a", "text": "Hi", "entities": [{"start": 0, "end": 9, "label": "PER"}]}, "entities[0]"),
    ({"id": "a", "text": "Hi there", "quotes": [{"start": 0, "end": 2, "kind": "shouted"}]}, "quotes[0].kind"),
    ({"id": "a", "text": "Hi there", "quotes": [{"start": 3, "end": 8, "kind": "direct", "speaker": {"start": 0, "end": 40}}]}, "quotes[0].speaker"),
    ({"id": "a", "text": "Hi", "entities": [{"start": 1, "end": 1, "label": "PER"}]}, "entities[0]"),
    ({"text": "Hi"}, "id"),
])
def test_bad_records_name_file_line_and_field(record, field):
    with pytest.raises(FormatError) as err:
        parse_line(json.dumps(record), "gold.jsonl", 7)
    assert err.value.path == "gold.jsonl" and err.value.line == 7
    assert field in str(err.value)


def test_broken_json_is_reported_with_its_line():
    with pytest.raises(FormatError, match=r"x.jsonl:3: json"):
        parse_line("{not json", "x.jsonl", 3)


def test_one_broken_record_is_skipped_and_the_rest_are_read(tmp_path):
    path = tmp_path / "batch.jsonl"
    good = Document(id="ok", text="Fine.").to_json()
    path.write_text("\n".join([good, '{"id": "bad"}', good.replace('"ok"', '"ok2"')]) + "\n")
    reported = []
    docs = list(iter_jsonl(path, errors="skip", report=reported.append))
    assert [d.id for d in docs] == ["ok", "ok2"]
    assert len(reported) == 1 and reported[0].line == 2 and "text" in str(reported[0])
    with pytest.raises(FormatError):
        read_jsonl(path)


def test_written_documents_read_back_identically(tmp_path, gold_docs):
    write_jsonl(gold_docs, tmp_path / "out.jsonl")
    assert read_jsonl(tmp_path / "out.jsonl") == gold_docs
    line = json.loads((tmp_path / "out.jsonl").read_text().splitlines()[0])
    assert "score" in line["entities"][0] and "text" in line["quotes"][0], "text and score are always written"
