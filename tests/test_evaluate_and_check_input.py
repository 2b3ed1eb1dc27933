"""`evaluate` and `data check` say what is wrong with their input, by file, line and field."""
from typer.testing import CliRunner

from newstag.cli import app
from newstag.corpus.check import check_files
from newstag.corpus.markup import compile_article
from newstag.document import write_jsonl

runner = CliRunner()


def test_evaluate_refuses_repeated_gold_ids_and_an_empty_gold_file(tmp_path, tiny_model, gold_docs):
    twice = tmp_path / "twice.jsonl"
    write_jsonl([gold_docs[0], gold_docs[0]], twice)
    result = runner.invoke(app, ["evaluate", "-m", str(tiny_model), "-d", str(twice)])
    assert result.exit_code == 2 and "gold document ids repeat: 't1'" in result.stderr
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    result = runner.invoke(app, ["evaluate", "-m", str(tiny_model), "-d", str(empty)])
    assert result.exit_code == 2 and "no documents" in result.stderr


def test_data_check_names_the_line_and_finds_nested_overlaps(tmp_path):
    """Two spans inside one outer span: the outer one overlaps both, though the two inner
    ones are not neighbours of it once sorted."""
    doc = compile_article("n", "{ORG Bank of Ghana} said.")
    outer = doc.entities[0]
    inner = [outer.model_copy(update={"start": s, "end": e, "text": doc.text[s:e], "label": "LOC"})
             for s, e in ((5, 7), (8, 13))]
    path = tmp_path / "nested.jsonl"
    write_jsonl([compile_article("ok", "Fine."), doc.model_copy(update={"entities": [outer, *inner]})], path)
    problems, _ = check_files([str(path)], ["PER", "ORG", "LOC", "MISC"])
    overlaps = [p for p in problems if "overlaps" in p]
    assert len(overlaps) == 2
    assert all(p.startswith(f"{path}:2: n: ") for p in overlaps)


def test_data_check_reports_an_empty_file(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    problems, _ = check_files([str(empty)], ["PER"])
    assert problems == [f"{empty}: no documents"]


def test_data_check_refuses_a_relative_pronoun_whose_clause_closed_before_the_cue(tmp_path):
    """ "which" speaks only the verb of its own clause; after the clause the head noun phrase does."""
    closed = compile_article("closed", 'The {ORG Dockers Union}, <s1 ref="Dockers Union">which</s1> represents 900 men, '
                                       '<c1>said</c1> <q1 indirect>that the strike would go on</q1>.')
    own = compile_article("own", 'The {ORG Dockers Union}, <s1 ref="Dockers Union">which</s1> <c1>warned</c1> '
                                 '<q1 indirect>that the strike would go on</q1>.')
    path = tmp_path / "relative.jsonl"
    write_jsonl([closed, own], path)
    problems, _ = check_files([str(path)], ["ORG"])
    assert len(problems) == 1
    assert problems[0].startswith(f"{path}:1: closed: quotes[0].speaker 'which': a relative pronoun whose clause closes")
