"""The evaluation report as one self-contained HTML page (``newstag evaluate --report``).

Owns what a reader of an evaluation sees: the headline figures; per-label precision,
recall and F1 as a chart; an entity confusion matrix with missed and spurious spans;
quote recall by kind and by where the speaker stands; a reliability diagram of the span
scores with their expected calibration error (calibration.py); learning curves from the
model's ``metrics.jsonl``; and the documents with the most errors, gold and predicted
side by side in the prediction page's renderer (render.py).

Charts are matplotlib SVG drawn inline (text as paths, so no font is fetched), in the
Okabe–Ito palette; the page loads nothing (its Content-Security-Policy forbids it) and
every piece of article text is HTML-escaped by the renderer. matplotlib is the
``report`` extra.
"""
from __future__ import annotations

import io
import json
from collections import Counter
from html import escape
from pathlib import Path
from typing import Optional

from .calibration import KINDS, expected_calibration_error, pooled_examples, reliability_bins
from .document import Document
from .evaluation import pair_documents
from .render import OKABE_ITO, page_head, page_tail, render_document

PALETTE = [OKABE_ITO[c] for c in ("blue", "vermillion", "bluish green", "orange", "reddish purple", "sky blue", "yellow")]
WORST_DOCUMENTS = 5
NONE = "(none)"


class ReportError(RuntimeError):
    """What the report needs is missing (matplotlib): a set-up error."""


def pyplot():
    """matplotlib's pyplot, drawing to memory in the report's style (paths for text, Okabe–Ito colours)."""
    try:
        import matplotlib
    except ImportError:
        raise ReportError("the HTML report needs matplotlib: pip install 'newstag[report]'") from None
    matplotlib.use("Agg")  # no display: draw to memory
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "path", "font.size": 9, "axes.prop_cycle": plt.cycler(color=PALETTE)})
    return plt


def inline_svg(fig) -> str:
    """A figure as an inline <svg> element (the XML prologue dropped), then closed."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    fig.clf()
    svg = buffer.getvalue()
    return svg[svg.index("<svg"):]


# ---- the pieces ------------------------------------------------------------------------
def headline_table(result: dict) -> str:
    rows = [("documents", str(result["documents"]))]
    if result.get("entities"):
        rows.append(("entity F1 (seqeval, strict)", f"{result['entities']['micro avg']['f1']:.2f}"))
    q = result.get("quotes") or {}
    for name, label in (("content_exact", "quote content, exact F1"), ("cue", "cue F1"), ("speaker", "speaker F1"),
                        ("attribution_exact", "attribution F1, exact"), ("attribution_overlap", "attribution F1, overlap")):
        if name in q:
            rows.append((label, f"{q[name]['f1']:.2f}"))
    if q:
        rows.append(("attribution accuracy (gold quotes found with the right speaker)", f"{q['attribution_accuracy']:.2f}"))
    body = "".join(f"<tr><th>{escape(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<table class="headline">{body}</table>'


def grouped_bars(plt, labels: list[str], series: dict[str, list[float]], xlabel: str, title: str) -> str:
    """Horizontal bars of percentages, one group per label, one bar per series."""
    fig, ax = plt.subplots(figsize=(7.5, 0.12 * len(series) * len(labels) + 1))
    height = 0.8 / len(series)
    for k, (name, values) in enumerate(series.items()):
        ax.barh([i + (k - (len(series) - 1) / 2) * height for i in range(len(labels))], values, height, label=name)
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel(xlabel)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(title)
    return inline_svg(fig)


def per_label_chart(result: dict, plt) -> str:
    """Precision, recall and F1 for each entity label and each quote measure."""
    rows = [(label, r) for label, r in (result.get("entities") or {}).items() if "avg" not in label]
    rows += [(name, r) for name, r in (result.get("quotes") or {}).items()
             if isinstance(r, dict) and "precision" in r and name != "content_token"]
    if not rows:
        return ""
    return grouped_bars(plt, [label for label, _ in rows],
                        {m: [r[m] for _, r in rows] for m in ("precision", "recall", "f1")},
                        "%", "Precision, recall and F1 per label")


def entity_confusion(pairs) -> dict:
    """(gold label, predicted label) counts over spans of the same extent; a gold span no
    prediction has is (label, "(none)"): missed; a prediction on no gold span is
    ("(none)", label): spurious."""
    counts = Counter()
    for gold, pred in pairs:
        if "entities" not in gold.layers:
            continue
        predicted = {(e.start, e.end): e.label for e in pred.entities}
        extents = {(e.start, e.end) for e in gold.entities}
        for e in gold.entities:
            counts[(e.label, predicted.get((e.start, e.end), NONE))] += 1
        for (start, end), label in predicted.items():
            if (start, end) not in extents:
                counts[(NONE, label)] += 1
    return counts


def confusion_table(counts: Counter) -> str:
    if not counts:
        return ""
    labels = sorted(({a for a, _ in counts} | {b for _, b in counts}) - {NONE})
    rows, cols = labels + [NONE], labels + [NONE]
    top = max(counts.values())
    head = "".join(f"<th>{escape(c if c != NONE else 'missed')}</th>" for c in cols)
    body = []
    for r in rows:
        cells = []
        for c in cols:
            n = counts.get((r, c), 0)
            shade = f"background: rgba(0, 114, 178, {0.08 + 0.6 * n / top:.2f})" if n else ""
            mark = " class=\"diagonal\"" if r == c and r != NONE else ""
            cells.append(f'<td style="{shade}"{mark}>{n if (r, c) != (NONE, NONE) else ""}</td>')
        name = "spurious" if r == NONE else r
        body.append(f"<tr><th>{escape(name)}</th>{''.join(cells)}</tr>")
    return ('<table class="confusion"><caption>Entity spans of the same extent: gold (rows) against predicted '
            '(columns); "missed": no prediction on the gold span; "spurious": no gold span under the prediction'
            f'</caption><tr><th>gold \\ predicted</th>{head}</tr>{"".join(body)}</table>')


def recall_by_category_chart(result: dict, plt) -> str:
    """Of the gold quotes of each kind and speaker position, the share found and the share
    found with the right speaker."""
    cats = (result.get("quotes") or {}).get("recall_by_category") or {}
    if not cats:
        return ""
    return grouped_bars(plt, [f"{n} ({c['gold']})" for n, c in cats.items()],
                        {"found": [c["found"] for c in cats.values()],
                         "found, right speaker": [c["attributed"] for c in cats.values()]},
                        "% of gold quotes", "Quotes by kind and by where the speaker stands")


def reliability_chart(examples: dict, plt) -> str:
    """Per score kind: the share right against the mean score in each score bin."""
    kinds = [k for k in KINDS if examples.get(k)]
    if not kinds:
        return ""
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot([0, 1], [0, 1], color="#999999", linestyle=":", label="perfectly calibrated")
    for kind in kinds:
        ex = examples[kind]
        points = reliability_bins(ex)
        ax.plot([score for _, score, _ in points], [right for _, _, right in points], marker="o",
                label=f"{kind} (ECE {expected_calibration_error(ex):.3f}, n={len(ex)})")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("score")
    ax.set_ylabel("share right")
    ax.legend(loc="upper left", fontsize=7)
    ax.set_title("Reliability of the scores")
    return inline_svg(fig)


def learning_curves(metrics_path: Path, plt) -> str:
    """Training loss and the dev figures of each epoch, from a model's metrics.jsonl."""
    if not metrics_path.is_file():
        return ""
    epochs = []
    for line in metrics_path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by a crash: the curves stand without it
        if record.get("event") == "start":
            epochs = []  # the last run of the log (a resumed run starts again)
        elif record.get("event") == "epoch":
            epochs.append(record)
    if not epochs:
        return ""
    fig, (loss_ax, dev_ax) = plt.subplots(1, 2, figsize=(9, 3.2))
    loss_ax.plot([r["epoch"] for r in epochs], [r.get("loss") for r in epochs], marker="o")
    loss_ax.set_xlabel("epoch")
    loss_ax.set_title("training loss")
    figures = sorted({k for r in epochs for corpus in (r.get("dev") or {}).values() for k in corpus})
    for corpus in sorted({c for r in epochs for c in (r.get("dev") or {})}):
        for name in figures:
            points = [(r["epoch"], r["dev"][corpus][name]) for r in epochs if name in (r.get("dev") or {}).get(corpus, {})]
            if points:
                dev_ax.plot(*zip(*points), marker=".", label=f"{corpus}: {name}")
    dev_ax.set_xlabel("epoch")
    dev_ax.set_title("dev")
    dev_ax.legend(fontsize=6, loc="lower right")
    return inline_svg(fig)


def errors_of(gold: Document, pred: Document) -> int:
    """Entity and quote-layer spans that differ between two versions of a document: between
    gold and prediction, the missed and spurious ones; between two predictions, their disagreements."""
    def spans(doc):
        out = {("ent", e.start, e.end, e.label) for e in doc.entities}
        for q in doc.quotes:
            out.add(("quote", q.start, q.end, q.kind))
            out |= {(part, s.start, s.end) for part, s in (("cue", q.cue), ("speaker", q.speaker)) if s is not None}
        return out

    return len(spans(gold) ^ spans(pred))


def side_by_side(heading: str, versions: list[tuple[str, Document]]) -> str:
    """Versions of one document (gold, predicted, ...) in columns, each drawn by render.py."""
    columns = "".join(f"<div><h4>{escape(name)}</h4>{render_document(doc)}</div>" for name, doc in versions)
    return f'<section class="side-by-side"><h3>{escape(heading)}</h3><div class="pair">{columns}</div></section>'


def worst_documents(pairs, n: int = WORST_DOCUMENTS) -> str:
    ranked = sorted(pairs, key=lambda p: -errors_of(*p))[:n]
    return "".join(side_by_side(f"{gold.id}: {errors_of(gold, pred)} spans differ",
                                [("gold", gold), ("predicted", pred)]) for gold, pred in ranked)


REPORT_CSS = """
.report h2 { margin-top: 2em; border-bottom: 1px solid #ccc; }
table.headline th { text-align: left; font-weight: normal; padding-right: 1.5em; }
table.headline td { font-weight: bold; text-align: right; }
table.confusion { border-collapse: collapse; }
table.confusion td, table.confusion th { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: right; }
table.confusion td.diagonal { font-weight: bold; }
table.confusion caption { caption-side: bottom; font-size: 0.85em; color: #555; padding-top: 0.4em; }
.pair { display: grid; grid-auto-flow: column; grid-auto-columns: minmax(0, 1fr); gap: 1em; }
.pair > div { min-width: 0; }
svg { max-width: 100%; height: auto; }
"""


def render_report(result: dict, gold: list[Document], pred: list[Document], model_dir: Optional[Path] = None,
                  title: str = "newstag evaluation") -> str:
    """The whole page."""
    plt = pyplot()
    pairs = pair_documents(gold, pred)
    sections = [("Headline figures", headline_table(result)),
                ("Per label", per_label_chart(result, plt)),
                ("Entity confusion", confusion_table(entity_confusion(pairs))),
                ("Quotes by kind and speaker position", recall_by_category_chart(result, plt)),
                ("Scores: reliability", reliability_chart(pooled_examples(pairs), plt)),
                ("Learning curves", learning_curves(Path(model_dir) / "metrics.jsonl", plt) if model_dir else ""),
                (f"The {WORST_DOCUMENTS} documents with the most errors", worst_documents(pairs))]
    plt.close("all")
    return report_page(title, sections)


def report_page(title: str, sections: list[tuple[str, str]], css: str = "") -> str:
    """A report page: the prediction page's head (its styles, legend and Content-Security-Policy)
    with REPORT_CSS and ``css`` added, a part for each (heading, HTML) that has HTML, the tail.
    report.html and compare.html are both made here."""
    body = "".join(f'<section class="report-part"><h2>{escape(name)}</h2>{html}</section>'
                   for name, html in sections if html)
    head = page_head(title).replace("</style>", REPORT_CSS + css + "</style>", 1)
    return head + f'<div class="report">{body}</div>' + page_tail()
