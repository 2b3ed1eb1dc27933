"""The quote archive: documents as Parquet tables whose offsets index the articles, one
speaker key per person within an article and per spelling across articles, and the
`newstag tables` / `newstag quotes` commands."""
import json
from collections import Counter
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from newstag.archive import name_key, quote_rows, Provenance, write_tables
from newstag.cli import app
from newstag.corpus.markup import compile_article
from newstag.document import read_jsonl, write_jsonl

runner = CliRunner()
NEWSWIRE_TEST = Path(__file__).resolve().parents[1] / "data" / "newswire" / "test.jsonl"

STOLTENBERG = """{PER Jens Stoltenberg} arrived in {LOC Kyiv} on Monday. <q1 direct>“We stand with you,”</q1> <c1>said</c1> <s1>{PER Stoltenberg}</s1>.

<s2 ref="Jens Stoltenberg">The NATO chief</s2> <c2>added</c2> <q2 indirect>that more air defence would come</q2>.

<q3 direct>“Winter will be hard,”</q3> <c3>warned</c3> <s3>{PER Jens Stoltenberg}</s3>."""


def keys(doc):
    return [row["speaker_key"] for row in quote_rows(doc, Provenance())]


@pytest.fixture(scope="module")
def newswire_tables(tmp_path_factory):
    out = tmp_path_factory.mktemp("tables")
    docs = read_jsonl(NEWSWIRE_TEST)
    write_tables(docs, out)
    return out, docs


def test_every_offset_in_both_tables_indexes_its_article(newswire_tables):
    out, docs = newswire_tables
    text = {d.id: d.text for d in docs}
    quotes = pq.read_table(out / "quotes.parquet").to_pylist()
    assert len(quotes) == sum(len(d.quotes) for d in docs)
    for row in quotes:
        for part in ("quote", "cue", "speaker"):
            start, end = row[f"{part}_start"], row[f"{part}_end"]
            assert (text[row["article_id"]][start:end] if start is not None else None) == row[f"{part}_text"]
    entities = pq.read_table(out / "entities.parquet").to_pylist()
    assert len(entities) == sum(len(d.entities) for d in docs)
    assert all(text[row["article_id"]][row["start"]:row["end"]] == row["text"] for row in entities)


def test_a_surname_a_full_name_and_a_description_of_one_person_are_one_speaker():
    doc = compile_article("a1", STOLTENBERG)
    rows = quote_rows(doc, Provenance())
    assert [r["speaker_name"] for r in rows] == ["Stoltenberg", "Jens Stoltenberg", "Jens Stoltenberg"]
    assert [r["speaker_key"] for r in rows] == ["jens stoltenberg"] * 3
    assert [r["speaker_display_name"] for r in rows] == ["Jens Stoltenberg"] * 3


def test_across_articles_only_names_that_are_the_same_once_normalised_merge():
    shouted = compile_article("a2", "<q1 direct>“No.”</q1> <c1>said</c1> <s1>{PER JENS  STOLTENBERG}</s1>.")
    surname_only = compile_article("a3", "<q1 direct>“Yes.”</q1> <c1>said</c1> <s1>{PER Stoltenberg}</s1>.")
    assert keys(compile_article("a1", STOLTENBERG))[0] == keys(shouted)[0] == "jens stoltenberg"
    assert keys(surname_only) == ["stoltenberg"]  # another article's Stoltenberg may be someone else


def test_a_name_is_normalised_by_unicode_form_case_spacing_and_possessive():
    assert name_key("  Jens\u00a0\n STOLTENBERG’s ") == "jens stoltenberg"
    assert name_key("Ｊｅｎｓ Stoltenberg's") == "jens stoltenberg"  # full-width letters (NFKC)
    assert name_key("Mu\u0308ller") == name_key("Müller")  # decomposed and composed ü


def test_a_surname_that_two_people_share_merges_into_neither():
    doc = compile_article("c", "{PER Bill Clinton} and {PER Hillary Clinton} spoke. "
                               "<q1 direct>“Later.”</q1> <c1>said</c1> <s1>{PER Clinton}</s1>. "
                               "<q2 direct>“Now.”</q2> <c2>said</c2> <s2>{PER Bill Clinton}</s2>.")
    assert keys(doc) == ["clinton", "bill clinton"]


def test_an_organisation_never_merges_into_a_person():
    doc = compile_article("g", "{PER Ana Green} left. <q1 indirect>It would appeal</q1>, "
                               "<s1>{ORG Green}</s1> <c1>said</c1>.")
    assert keys(doc) == ["green"]


def test_a_speaker_phrase_is_named_by_its_first_person_and_a_description_by_nobody():
    doc = compile_article("p", "<q1 direct>“Sell,”</q1> <c1>said</c1> <s1>{PER Ratna Halim}, a strategist at "
                               "{ORG Straits Meridian Securities}</s1>. <q2 indirect>Prices would fall</q2>, "
                               "<s2>a company spokesman</s2> <c2>said</c2>.")
    rows = quote_rows(doc, Provenance())
    assert [r["speaker_name"] for r in rows] == ["Ratna Halim", None]
    assert rows[1]["speaker_key"] is None and rows[1]["speaker_text"] == "a company spokesman"


def test_duckdb_counts_the_same_speakers_as_python_counts_the_jsonl(newswire_tables):
    out, docs = newswire_tables
    in_python, articles = Counter(), {}
    for doc in docs:
        for key in keys(doc):
            if key is not None:
                in_python[key] += 1
                articles.setdefault(key, set()).add(doc.id)
    rows = duckdb.sql(f"select speaker_key, count(*), count(distinct article_id) from '{out}/quotes.parquet' "
                      "where speaker_key is not null group by speaker_key").fetchall()
    assert {key: (n, a) for key, n, a in rows} == {key: (n, len(articles[key])) for key, n in in_python.items()}
    (total, unnamed), = duckdb.sql(f"select count(*), count(*) - count(speaker_key) "
                                   f"from '{out}/quotes.parquet'").fetchall()
    assert total == sum(len(d.quotes) for d in docs)
    assert unnamed == sum(1 for d in docs for q in d.quotes if q.speaker_entity is None and not any(
        e.label in ("PER", "ORG") and q.speaker and q.speaker.start <= e.start and e.end <= q.speaker.end
        for e in d.entities))


def test_every_row_says_what_made_it(newswire_tables):
    from newstag import __version__

    out, _ = newswire_tables
    for name in ("quotes.parquet", "entities.parquet"):
        provenance = duckdb.sql(f"select distinct model_sha256, newstag_version, schema_version "
                                f"from '{out}/{name}'").fetchall()
        assert provenance == [(None, __version__, 1)]


def test_a_crash_while_writing_leaves_the_old_tables_whole(tmp_path, gold_docs):
    write_tables(gold_docs, tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def docs_then_crash():
        yield gold_docs[0]
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        write_tables(docs_then_crash(), tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # no temporary file left either


def test_tables_writes_the_good_records_of_a_file_with_a_broken_line_and_exits_3(tmp_path, gold_docs):
    data = tmp_path / "pred.jsonl"
    write_jsonl(gold_docs[:2], data)
    first, second = data.read_text().splitlines()
    data.write_text("\n".join([first, '{"id": "broken", "text": 5}', second]) + "\n")
    result = runner.invoke(app, ["tables", str(data), "--out", str(tmp_path / "t")])
    assert result.exit_code == 3
    assert "pred.jsonl:2" in result.stderr and "1 records rejected" in result.stderr
    ids = pq.read_table(tmp_path / "t" / "entities.parquet").column("article_id").to_pylist()
    assert sorted(set(ids)) == [gold_docs[0].id, gold_docs[1].id]


def test_tables_stores_the_sha256_of_the_models_weights_from_its_manifest(tmp_path, tiny_model, gold_docs):
    data = tmp_path / "pred.jsonl"
    write_jsonl(gold_docs, data)
    result = runner.invoke(app, ["tables", str(data), "--out", str(tmp_path), "--model", str(tiny_model)])
    assert result.exit_code == 0, result.output
    expected = json.loads((tiny_model / "manifest.json").read_text())["files"]["model.safetensors"]
    assert set(pq.read_table(tmp_path / "quotes.parquet").column("model_sha256").to_pylist()) == {expected}


def test_tables_set_up_errors_are_one_line_and_exit_2(tmp_path, gold_docs):
    data = tmp_path / "pred.jsonl"
    write_jsonl(gold_docs, data)
    cases = [([str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "t")], "missing.jsonl: no such file"),
             ([str(data), "--out", str(data)], "is a file"),
             ([str(data), "--out", str(data / "sub")], "not a writable folder"),
             ([str(data), "--out", str(tmp_path / "t"), "--model", str(tmp_path / "no-model")], "no such model")]
    for args, message in cases:
        result = runner.invoke(app, ["tables", *args])
        assert result.exit_code == 2 and message in result.stderr and "Traceback" not in result.output
    assert not (tmp_path / "t").exists()


def test_quotes_lists_the_most_quoted_speakers_with_their_articles(tmp_path):
    docs = [compile_article("a1", STOLTENBERG),
            compile_article("a2", "<q1 direct>“No.”</q1> <c1>said</c1> <s1>{PER Jens Stoltenberg}</s1>. "
                                  "<q2 direct>“Yes.”</q2> <c2>said</c2> <s2>{PER Ana Ruiz}</s2>.")]
    write_tables(docs, tmp_path)
    result = runner.invoke(app, ["quotes", str(tmp_path), "--top", "1"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["quotes  articles  speaker", "     4         2  Jens Stoltenberg"]


def test_quotes_prints_a_speakers_quotes_by_article(tmp_path):
    write_tables([compile_article("a1", STOLTENBERG)], tmp_path)
    result = runner.invoke(app, ["quotes", str(tmp_path / "quotes.parquet"), "--speaker", "stoltenberg"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["Jens Stoltenberg: 3 quotes in 1 article",
                                          "  a1  “We stand with you,”",
                                          "  a1  that more air defence would come",
                                          "  a1  “Winter will be hard,”"]


def test_quotes_refuses_what_is_not_a_quotes_table_in_one_line(tmp_path, gold_docs):
    write_tables(gold_docs, tmp_path)
    not_parquet = tmp_path / "x.parquet"
    not_parquet.write_text("hello")
    for path, message in ((tmp_path / "missing", "no such table"), (not_parquet, "not a Parquet file"),
                          (tmp_path / "entities.parquet", "not a newstag quotes table")):
        result = runner.invoke(app, ["quotes", str(path)])
        assert result.exit_code == 2 and message in result.stderr and "Traceback" not in result.output
