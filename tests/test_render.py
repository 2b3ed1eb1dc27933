"""The HTML view (`newstag predict --format html`): one self-contained page on which every
character of every article appears once, escaped, in its paragraphs; entities marked by
type, quotes shaded by kind, and each quote tied to its cue and speaker by a shared number
and title. A run streams the page (head, a section per document, tail) and a resumed run
ends with the same file as an uninterrupted one."""
import json
import re
from html.parser import HTMLParser

import pytest

from newstag.document import Document, Entity, Quote, Span
from newstag.render import ENTITY_STYLES, KIND_SHADES, OKABE_ITO, page_head, page_tail, render_document, render_page

from conftest import interrupted_at_batch, predict

VOID = {"meta", "br", "hr", "img", "input", "link"}


class Page(HTMLParser):
    """The page as a tree walk: every span with its classes, attributes and enclosing spans;
    the text of every paragraph; and whether every tag closed where it should."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.stack, self.spans, self.paragraphs, self.tags, self.nested_well = [], [], [], [], True
        self.feed(html)
        self.close()
        self.nested_well = self.nested_well and not self.stack  # and every element was closed

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag in VOID:
            return
        attrs, span = dict(attrs), None
        if tag == "span":
            span = {"classes": attrs.get("class", "").split(), "attrs": attrs, "text": "",
                    "inside": [a.get("class", "") for t, a, _ in self.stack if t == "span"]}
            self.spans.append(span)
        if tag == "p":
            self.paragraphs.append("")
        self.stack.append((tag, attrs, span))

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1][0] != tag:
            self.nested_well = False
            return
        self.stack.pop()

    def handle_data(self, data):
        if any(t == "p" for t, _, _ in self.stack):
            self.paragraphs[-1] += data
        for _, _, span in self.stack:
            if span is not None:
                span["text"] += data

    def with_class(self, cls):
        return [s for s in self.spans if cls in s["classes"]]


def span_text(page: Page, cls: str) -> list[str]:
    return [s["text"] for s in page.with_class(cls)]


@pytest.fixture()
def t1(gold_docs):
    return gold_docs[0]  # conftest's port strike: nested speaker/entity, a split quote, a pronoun speaker


def test_a_headline_with_a_script_tag_is_shown_as_text_and_never_runs():
    text = '<script>alert(1)</script> & "Ruiz" <b>wins</b>\n\nShe said <img src=x onerror=alert(2)>.'
    doc = Document(id='<script>alert("id")</script>', text=text,
                   entities=[Entity(start=text.index('"Ruiz"'), end=text.index('"Ruiz"') + 6, label="<i>PER</i>")])
    html = render_page([doc])
    assert "<script" not in html and "<img" not in html and "<b>" not in html and "<i>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    page = Page(html)
    assert page.paragraphs == ['<script>alert(1)</script> & "Ruiz" <b>wins</b>', "She said <img src=x onerror=alert(2)>."]
    assert page.tags.count("script") == page.tags.count("img") == 0


def test_the_page_loads_nothing_from_anywhere(gold_docs):
    html = render_page(gold_docs)
    for fetches in ("<script", "<link", "<img", "src=", "href=", "url(", "@import", "@font-face"):
        assert fetches not in html
    assert "Content-Security-Policy" in html and "default-src 'none'" in html


def test_every_character_appears_once_in_order_within_its_paragraph(gold_docs):
    for doc in gold_docs:
        page = Page(render_document(doc))
        assert page.nested_well
        assert page.paragraphs == [p for p in re.split(r"\n[^\S\n]*\n\s*", doc.text) if p]


def test_paragraph_breaks_are_kept_and_a_single_newline_stays_a_line_break():
    page = Page(render_document(Document(id="x", text="Headline\n\nFirst line\nsecond line.\n \n\nLast.")))
    assert page.paragraphs == ["Headline", "First line\nsecond line.", "Last."]
    assert "white-space: pre-wrap" in page_head()


def test_an_entity_inside_a_speaker_is_drawn_inside_it(t1):
    page = Page(render_document(t1))
    person, = [s for s in page.with_class("ent-PER")]
    assert person["text"] == "Inés Ñáñez" and "speaker" in person["inside"]
    assert span_text(page, "ent-LOC") == ["Valparaíso", "SANTIAGO", "Santiago"]
    santiago = page.with_class("ent-LOC")[-1]
    assert "quote indirect" in santiago["inside"]  # an entity inside a quote


def test_quote_contents_are_shaded_by_kind(t1):
    page = Page(render_document(t1))
    assert [(s["classes"][1], s["text"]) for s in page.with_class("quote")] == [
        ("direct", "“We will stay out until the contracts are signed,”"), ("direct", "“Not one crane moves.”"),
        ("mixed", "that the port authority's offer was “an insult”"),
        ("indirect", "talks will resume on Friday in Santiago")]


def test_a_quote_its_cue_and_its_speaker_share_a_number_and_a_title(t1):
    page = Page(render_document(t1))
    first = page.with_class("quote")[0]["attrs"]
    assert first["data-n"] == "1"
    assert first["title"] == "Q1 · direct · speaker: Inés Ñáñez (union leader Inés Ñáñez) · cue: told"
    # One speaker and one cue serve both parts of the split quote: they carry both numbers.
    speaker, cue = page.with_class("speaker")[0], page.with_class("cue")[0]
    assert (speaker["text"], speaker["attrs"]["data-n"]) == ("union leader Inés Ñáñez", "1,2")
    assert (cue["text"], cue["attrs"]["data-n"]) == ("told", "1,2")
    assert first["title"] in speaker["attrs"]["title"] and first["title"] in cue["attrs"]["title"]


def test_a_pronoun_speaker_is_named_by_the_name_it_resolves_to(t1):
    page = Page(render_document(t1))
    mixed, = [s for s in page.with_class("quote") if "mixed" in s["classes"]]
    assert mixed["attrs"]["title"] == "Q3 · mixed · speaker: Inés Ñáñez (She) · cue: said"


def test_scores_are_shown_on_hover_for_review():
    text = "Prices rose, Ana said."
    doc = Document(id="x", text=text, quotes=[Quote(start=0, end=11, kind="indirect", score=0.81, speaker_score=0.4,
                                                   speaker=Span(start=13, end=16), cue=Span(start=17, end=21))])
    quote, = Page(render_document(doc)).with_class("quote")
    assert quote["attrs"]["title"] == "Q1 · indirect · speaker: Ana · cue: said · score 0.81 · speaker score 0.40"


def test_the_margin_lists_every_quote_with_its_attribution(t1):
    html = render_document(t1)
    margin = html[html.index('<aside class="quotes">'):]
    assert margin.count("<li>") == len(t1.quotes)
    assert "indirect · speaker: a company spokesman · cue: According to" in margin


def test_spans_that_cross_are_cut_and_reopened_and_numbered_once():
    text = "“We stay in Lima” Ruiz said."
    lima_ruiz = Span(start=text.index("Lima"), end=text.index(" said"))  # crosses the quote's end
    doc = Document(id="x", text=text,
                   entities=[Entity(start=lima_ruiz.start, end=lima_ruiz.end, label="LOC")],
                   quotes=[Quote(start=0, end=text.index(" Ruiz"), kind="direct")])
    page = Page(render_document(doc))
    assert page.nested_well and page.paragraphs == [text]
    assert "".join(span_text(page, "ent-LOC")) == "Lima” Ruiz"
    assert [s["attrs"].get("data-n") for s in page.with_class("quote")] == ["1"]


def test_a_label_outside_the_default_set_is_drawn_as_other_and_named_on_hover():
    doc = Document(id="x", text="The Olympics opened.", entities=[Entity(start=4, end=12, label="EVENT", score=0.5)])
    entity, = Page(render_document(doc)).with_class("ent")
    assert "ent-other" in entity["classes"] and entity["attrs"]["title"] == "EVENT · score 0.50"


def test_entity_types_and_quote_kinds_take_okabe_ito_colours_explained_by_a_legend():
    head = page_head()
    for label, (colour, _) in ENTITY_STYLES.items():
        assert colour in OKABE_ITO.values() and f".ent-{label}" in head and f"sw-{label}\">{label}<" in head
    for kind, colour in KIND_SHADES.items():
        assert colour in OKABE_ITO.values() and f".quote.{kind}" in head and f"{kind} quote" in head
    assert len({c for c, _ in ENTITY_STYLES.values()} | set(KIND_SHADES.values())) == 7  # no colour means two things
    assert len({style for _, style in ENTITY_STYLES.values()}) == 4  # told apart without colour too


def test_a_page_is_its_head_its_documents_and_its_tail(gold_docs):
    assert render_page(gold_docs, title="Wire <1>") == (page_head("Wire <1>") + "".join(map(render_document, gold_docs))
                                                        + page_tail())
    assert "<title>Wire &lt;1&gt;</title>" in page_head("Wire <1>")
    assert Page(render_page(gold_docs)).nested_well



def test_predict_writes_one_html_page_with_a_section_per_document(tiny_model, tmp_path, gold_docs):
    from newstag.document import write_jsonl

    write_jsonl(gold_docs, tmp_path / "in.jsonl")
    out = tmp_path / "page.html"
    result = predict(tiny_model, tmp_path / "in.jsonl", "-o", out, "--format", "html", "--batch-size", "3")
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and html.endswith("</html>\n")
    assert html.count('<section class="doc">') == len(gold_docs) and Page(html).nested_well
    stdout = predict(tiny_model, tmp_path / "in.jsonl", "--format", "html", "--batch-size", "3")
    assert stdout.exit_code == 0 and stdout.stdout == html


def test_a_resumed_html_run_gives_the_same_file_as_an_uninterrupted_one(tiny_model, tmp_path, monkeypatch):
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps({"id": f"a{i}", "text": f"“We stay,” Ana said in Lima {i}."}) + "\n"
                            for i in range(7)))
    whole = tmp_path / "whole.html"
    assert predict(tiny_model, path, "-o", whole, "--format", "html", "--batch-size", "2").exit_code == 0
    out = tmp_path / "out.html"
    with interrupted_at_batch(3):
        result = predict(tiny_model, path, "-o", out, "--format", "html", "--batch-size", "2")
    assert result.exit_code == 130 and "--resume" in result.stderr
    partial = (tmp_path / "out.html.partial").read_text(encoding="utf-8")
    assert partial.startswith("<!DOCTYPE html>") and partial.count("<section") == 4 and "</html>" not in partial
    result = predict(tiny_model, path, "-o", out, "--format", "html", "--batch-size", "2", "--resume")
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8") == whole.read_text(encoding="utf-8")


def test_a_run_is_resumed_only_in_the_format_it_was_started_in(tiny_model, tmp_path, monkeypatch):
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps({"id": f"a{i}", "text": f"Article {i}."}) + "\n" for i in range(3)))

    out = tmp_path / "out.html"
    with interrupted_at_batch(1):
        assert predict(tiny_model, path, "-o", out, "--format", "html").exit_code == 130
    result = predict(tiny_model, path, "-o", out, "--resume")
    assert result.exit_code == 2 and "started with --format html" in result.stderr and "Traceback" not in result.output
    # Stopped before its first batch was written, the run still resumes, in its own format.
    result = predict(tiny_model, path, "-o", out, "--format", "html", "--resume")
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").count("<section") == 3


def test_an_unknown_format_is_a_usage_error_naming_the_formats(tiny_model, tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps({"id": "a", "text": "Lima."}) + "\n")
    result = predict(tiny_model, path, "--format", "xml")
    assert result.exit_code == 2 and "html" in result.stderr and "label-studio" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_long_article_with_thousands_of_quotes_renders_in_linear_time():
    import time

    unit = "“We hold,” said Ana Ruiz in Lima. "
    text, entities, quotes = unit * 20_000, [], []
    for o in range(0, len(text), len(unit)):
        entities += [Entity(start=o + 16, end=o + 24, label="PER"), Entity(start=o + 28, end=o + 32, label="LOC")]
        quotes.append(Quote(start=o, end=o + 10, kind="direct", cue=Span(start=o + 11, end=o + 15),
                            speaker=Span(start=o + 16, end=o + 24)))
    doc = Document(id="long", text=text, entities=entities, quotes=quotes)
    started = time.perf_counter()
    html = render_document(doc)
    assert time.perf_counter() - started < 15  # about 0.6 s; naming each speaker by a scan of all entities took minutes
    assert html.count('class="quote direct"') == 20_000 and 'data-n="20000"' in html
