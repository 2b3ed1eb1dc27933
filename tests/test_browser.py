"""The two pages people look at, opened in headless Chromium as a reader's browser would:
the evaluation report (`evaluate --report`) and the prediction page (`predict --format
html`). No console error, no request beyond the page itself, the charts and the marked
spans drawn, and article text that looks like code shown as text.

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
