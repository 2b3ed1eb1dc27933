"""`newstag evaluate --report DIR` writes report.html: one page a person opens offline,
with every element of an evaluation a reader looks for, and nothing that runs or loads."""
import re
import shutil
from collections import Counter

from typer.testing import CliRunner

from newstag.cli import app
from newstag.document import Document, Entity, write_jsonl
from newstag.report import NONE, entity_confusion

runner = CliRunner()


def test_missed_and_spurious_spans_have_their_own_row_and_column():
    gold = Document(id="d", text="Ana Ruiz met Bo Li in Lima.",
                    entities=[Entity(start=0, end=8, label="PER"), Entity(start=13, end=18, label="PER"),
                              Entity(start=22, end=26, label="LOC")])
    pred = gold.model_copy(update={"entities": [Entity(start=0, end=8, label="PER"), Entity(start=13, end=18, label="ORG"),
                                                Entity(start=9, end=12, label="MISC")]})
    assert entity_confusion([(gold, pred)]) == Counter({("PER", "PER"): 1, ("PER", "ORG"): 1, ("LOC", NONE): 1,
                                                        (NONE, "MISC"): 1})


def report_page(model, tmp_path, docs) -> str:
    data = tmp_path / "gold.jsonl"
    write_jsonl(docs, data)
    result = runner.invoke(app, ["evaluate", "-m", str(model), "-d", str(data), "--report", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    assert {p.name for p in (tmp_path / "r").iterdir()} == {"report.json", "report.md", "report.html"}
    return (tmp_path / "r" / "report.html").read_text(encoding="utf-8")


def test_the_report_page_has_every_element_and_loads_nothing(tiny_model, tmp_path, gold_docs):
    hostile = Document(id="hostile", text="<script>alert(1)</script> Ana Ruiz said so in Lima.")
    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    page = report_page(model, tmp_path, [*gold_docs, hostile])
    for heading in ("Headline figures", "Per label", "Entity confusion", "Quotes by kind and speaker position",
                    "Scores: reliability", "Learning curves", "documents with the most errors"):
        assert heading in page, heading
    assert page.count("<svg") >= 4, "per-label, by-category, reliability and learning-curve charts"
    assert page.count(">missed</th>") == 1 and page.count(">spurious</th>") == 1
    assert "ECE" in page
    assert page.count('class="side-by-side"') >= 1 and "<h4>gold</h4>" in page and "<h4>predicted</h4>" in page
    assert "<script" not in page.replace("&lt;script", ""), "article text is escaped; the page has no script"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    loads = re.findall(r'(?:src|href)\s*=\s*"([^"#][^"]*)"', page)
    assert loads == [], f"the page loads nothing: {loads[:3]}"
    assert "default-src 'none'" in page


def test_training_writes_a_model_card_and_evaluate_adds_its_figures(tiny_model, tmp_path, gold_docs):
    card = (tiny_model / "README.md").read_text(encoding="utf-8")
    assert card.startswith("---\nlibrary_name: newstag")
    for section in ("## Training data", "## Configuration", "## Dev figures", "## Scores", "## Intended use",
                    "## Known limits"):
        assert section in card, section
    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    report_page(model, tmp_path, gold_docs)
    card = (model / "README.md").read_text(encoding="utf-8")
    assert "## Evaluations" in card and str(tmp_path / "gold.jsonl") in card

    from newstag.tagger import Tagger

    Tagger.load(model, device="cpu")  # the card and the figures beside it are not the model's files
