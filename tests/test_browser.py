"""The pages people look at, opened in headless Chromium as a reader's browser would:
the evaluation report (`evaluate --report`), the comparison of two models (`compare
--report`) and the prediction page (`predict --format html`). No console error, no
request beyond the page itself, the charts and the marked spans drawn, and article text
that looks like code shown as text.

Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them) and selenium
(the test extra); no browser is downloaded at run time.
"""
import shutil

import pytest
from typer.testing import CliRunner

from newstag.cli import app
from newstag.document import Document, write_jsonl

from conftest import predict

HOSTILE = Document(id="hostile", text="<script>alert(1)</script> Ana Ruiz said “we stay” in Lima.")


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.binary_location = shutil.which("chromium") or shutil.which("chromium-browser")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    yield driver
    driver.quit()


def opened(browser, path):
    """Load a page; (console messages, URLs it requested beyond itself)."""
    import json

    browser.get_log("browser"), browser.get_log("performance")  # start from empty logs
    browser.get(path.resolve().as_uri())
    console = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
    requests = []
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            url = message["params"]["request"]["url"]
            if url != path.resolve().as_uri():
                requests.append(url)
    return console, requests


def test_the_evaluation_report_draws_its_charts_and_loads_nothing(browser, tiny_model, tmp_path, gold_docs):
    data = tmp_path / "gold.jsonl"
    write_jsonl([*gold_docs, HOSTILE], data)
    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    result = CliRunner().invoke(app, ["evaluate", "-m", str(model), "-d", str(data), "--report", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    console, requests = opened(browser, tmp_path / "r" / "report.html")
    assert console == [] and requests == []
    count = browser.execute_script
    assert count("return document.querySelectorAll('svg').length") >= 4
    assert count("return document.querySelectorAll('svg path, svg use').length") > 50, "the charts have marks"
    assert count("return document.querySelectorAll('table.confusion td').length") > 4
    assert count("return document.querySelectorAll('.side-by-side .ent').length") > 0, "the worst documents, marked"
    assert count("return document.scripts.length") == 0
    assert "<script>alert(1)</script>" in browser.find_element("tag name", "body").text


def test_the_comparison_page_draws_its_charts_and_documents_and_loads_nothing(browser, tmp_path, gold_docs):
    """compare.html as `newstag compare --report` writes it, of predictions made by hand so that
    the documents the two disagree on (one of them the hostile one) are known."""
    from newstag.compare import compare_predictions, write_report
    from newstag.document import Entity

    hostile = Document(id=HOSTILE.id, text=HOSTILE.text,
                       entities=[Entity(start=26, end=34, text="Ana Ruiz", label="PER"),
                                 Entity(start=53, end=57, text="Lima", label="LOC")])
    gold = [*gold_docs, hostile]
    b = [d.model_copy(update={"entities": d.entities[1:]}) if d.id in ("t1", "hostile") else d for d in gold]
    write_report(compare_predictions(gold, gold, b, ["entities", "quotes"], "models/a", "models/b", "gold.jsonl"),
                 tmp_path / "c", "newstag comparison: a against b on gold.jsonl")
    console, requests = opened(browser, tmp_path / "c" / "compare.html")
    assert console == [] and requests == []
    count = browser.execute_script
    assert count("return document.querySelectorAll('svg').length") == 2
    assert count("return document.querySelectorAll('svg path, svg use').length") > 50, "the charts have marks"
    assert count("return document.querySelectorAll('table.figures tr').length") > 5
    assert count("return document.querySelectorAll('.side-by-side').length") == 2, "t1 and the hostile document"
    assert count("return document.querySelectorAll('.side-by-side .pair > div').length") == 6, "gold, A and B"
    assert count("return document.querySelectorAll('.side-by-side .ent').length") > 0, "their spans, marked"
    assert count("return document.scripts.length") == 0
    assert "<script>alert(1)</script>" in browser.find_element("tag name", "body").text


def test_the_prediction_page_marks_entities_and_quotes_and_loads_nothing(browser, tiny_model, tmp_path, gold_docs):
    data = tmp_path / "in.jsonl"
    write_jsonl([*gold_docs, HOSTILE], data)
    page = tmp_path / "page.html"
    assert predict(tiny_model, data, "-o", page, "--format", "html").exit_code == 0
    console, requests = opened(browser, page)
    assert console == [] and requests == []
    count = browser.execute_script
    assert count("return document.querySelectorAll('section').length") == len(gold_docs) + 1
    assert count("return document.querySelectorAll('.ent').length") > 0
    assert count("return document.scripts.length") == 0
    assert "<script>alert(1)</script>" in browser.find_element("tag name", "body").text
