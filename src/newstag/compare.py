"""Two models on the same gold data: ``newstag compare MODEL_A MODEL_B --data FILE``.

Owns the comparison of two models: the layers both were trained on (the data is scored on
those only, and the comparison says so when one model has a layer the other lacks); each
model's figures as ``evaluate`` reports them, A and B side by side with B − A and a 95 %
interval for each difference from a paired bootstrap over documents (both models scored
on the same resampled documents, from per-document counts: ``evaluation.entity_tags`` and
``evaluation.quote_counts``); the documents where the two disagree most (spans that differ
between A's and B's predictions, ``report.errors_of``); and what is written: the terminal
tables, ``compare.json``, and ``compare.html``, a page made like report.html
(``report.report_page``, its charts, its side-by-side documents drawn by render.py).
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass
from html import escape
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .document import LAYERS, Document
from .evaluation import entity_tags, evaluate, pair_documents, quote_counts

RESAMPLES = 1000
SEED = 13
TOP_DOCUMENTS = 5

# The quote figures: key (as evaluation.headline names them), label, short name for the
# chart, and the counts of evaluation.quote_counts they are made from. Word F1: overlap of
# quote words; attribution F1: quotes found (exactly, or >= 50 % of words) with the right
# speaker; attribution accuracy: the share of gold quotes found with the right speaker;
# kind accuracy: the share of found quotes with the right kind (evaluation.py).
QUOTE_F1 = (
    ("content_exact_f1", "quote content exact F1", "content exact", ("content_tp", "content_pred", "content_gold")),
    ("content_token_f1", "quote content word F1", "content words", ("tok_tp", "tok_pred", "tok_gold")),
    ("cue_f1", "cue F1", "cue", ("cue_tp", "cue_pred", "cue_gold")),
    ("speaker_f1", "speaker F1", "speaker", ("speaker_tp", "speaker_pred", "speaker_gold")),
    ("attribution_exact_f1", "attribution exact F1", "attribution exact",
     ("attr_exact_tp", "pred_quotes", "gold_quotes")),
    ("attribution_overlap_f1", "attribution overlap F1", "attribution overlap",
     ("attr_overlap_tp", "pred_quotes", "gold_quotes")),
)
QUOTE_ACCURACY = (
    ("attribution_accuracy", "attribution accuracy", ("attr_overlap_tp", "gold_quotes")),
    ("kind_accuracy", "kind accuracy", ("kinds_right", "kinds_found")),
)


class CompareError(ValueError):
    """The models and the data cannot be compared: one line for the user."""


@dataclass
class Figure:
    key: str
    label: str
    a: float
    b: float
    interval: tuple[float, float]  # of B − A: 95 % paired bootstrap over documents
    chart_name: str = ""  # set for an F1 drawn in the per-label chart

    @property
    def difference(self) -> float:
        return round(self.b - self.a, 2)

    @property
    def beyond_noise(self) -> bool:
        """The interval excludes 0: resampling the documents does not make the difference vanish."""
        return self.interval[0] > 0 or self.interval[1] < 0


@dataclass
class Disagreement:
    id: str
    differing_spans: int  # spans in A's prediction or B's, not both
    errors_a: int  # spans that differ between gold and A (missed + spurious)
    errors_b: int


@dataclass
class Comparison:
    model_a: str
    model_b: str
    data: str
    layers: list[str]
    notes: list[str]
    figures: list[Figure]
    disagreements: list[Disagreement]  # every document where A and B differ, most first
    evaluations: dict  # "a", "b": evaluation.evaluate of each, on the compared layers
    documents: dict[str, tuple[Document, Document, Document]]  # id -> gold, A, B on the compared layers
    resamples: int

    def to_json(self) -> dict:
        return {"model_a": self.model_a, "model_b": self.model_b, "data": self.data, "documents": len(self.documents),
                "layers": self.layers, "notes": self.notes,
                "bootstrap": {"resamples": self.resamples, "seed": SEED, "interval": "95 % percentile interval of "
                              "B - A over documents resampled with replacement, both models on the same resample"},
                "figures": {f.key: {"label": f.label, "a": f.a, "b": f.b, "difference": f.difference,
                                    "interval": list(f.interval), "beyond_noise": f.beyond_noise}
                            for f in self.figures},
                "disagreements": [asdict(d) for d in self.disagreements],
                "evaluations": self.evaluations}


# ---- what is compared -----------------------------------------------------------------
def compared_layers(gold: list[Document], layers_a: list[str], layers_b: list[str], model_a: str, model_b: str,
                    data: str) -> tuple[list[str], list[str]]:
    """The layers the data annotates and both models were trained on, and a note for each
    layer the data annotates that one model (or neither) has."""
    annotated = [layer for layer in LAYERS if any(layer in g.layers for g in gold)]
    layers = [layer for layer in annotated if layer in layers_a and layer in layers_b]
    if not layers:
        raise CompareError(f"{data}: nothing to compare: the data annotates {', '.join(annotated) or 'no layer'}, "
                           f"A ({model_a}) was trained on {', '.join(layers_a) or 'nothing'}, "
                           f"B ({model_b}) on {', '.join(layers_b) or 'nothing'}")
    notes = []
    for layer in annotated:
        lacking = [f"{name} ({model})" for name, model, has in (("A", model_a, layers_a), ("B", model_b, layers_b))
                   if layer not in has]
        if lacking:
            notes.append(f"compared on {', '.join(layers)} only: {' and '.join(lacking)} "
                         f"{'was' if len(lacking) == 1 else 'were'} not trained on {layer}")
    return layers, notes


def restricted(doc: Document, layers: list[str]) -> Document:
    """The document with only the given layers: the spans of the others dropped."""
    return doc.model_copy(update={"layers": [layer for layer in doc.layers if layer in layers],
                                  "entities": doc.entities if "entities" in layers else [],
                                  "quotes": doc.quotes if "quotes" in layers else []})


# ---- figures from per-document counts -------------------------------------------------
def document_counts(pairs) -> list[Counter]:
    """For each (gold, predicted) document, the counts every figure is made from: per entity
    label seqeval's strict true positives, predicted and gold entities; the quote counts of
    evaluation.quote_counts, with the found quotes whose kind is right."""
    from seqeval.scheme import IOB2, Entities

    rows = []
    for gold, pred in pairs:
        row = Counter()
        if "entities" in gold.layers:
            true, found = (Entities([tags], IOB2) for tags in entity_tags(gold, pred))
            for label in true.unique_tags | found.unique_tags:
                t, p = true.filter(label), found.filter(label)
                row.update({f"entity:{label}:tp": len(t & p), f"entity:{label}:pred": len(p),
                            f"entity:{label}:gold": len(t)})
        if "quotes" in gold.layers:
            counts, _, kinds = quote_counts(gold, pred)
            row.update(counts)
            row.update({"kinds_found": sum(kinds.values()),
                        "kinds_right": sum(n for (g, p), n in kinds.items() if g == p)})
        rows.append(row)
    return rows


def _ratio(a, b):
    return np.divide(a, b, out=np.zeros(np.shape(a)), where=b > 0)


def _f1(tp, pred, gold):
    """As evaluation.prf and seqeval compute it (the same operations, so the same rounding)."""
    p, r = _ratio(tp, pred), _ratio(tp, gold)
    return 100 * _ratio(2 * p * r, p + r)


Measure = tuple[str, str, str, Callable[[dict], np.ndarray]]  # key, label, chart name, counts -> figure


def measures(names: set[str], quotes: bool) -> list[Measure]:
    """The figures, each a function of summed counts (arrays: one sum per resample)."""
    out: list[Measure] = []
    labels = sorted({name.split(":")[1] for name in names if name.startswith("entity:")})
    if labels:
        def total(s, part):
            return sum(s[f"entity:{label}:{part}"] for label in labels)

        out.append(("entity_f1", "entity F1", "entities (all)",
                    lambda s: _f1(total(s, "tp"), total(s, "pred"), total(s, "gold"))))
        for label in labels:
            out.append((f"entity_f1:{label}", f"entity F1, {label}", label,
                        lambda s, k=f"entity:{label}": _f1(s[f"{k}:tp"], s[f"{k}:pred"], s[f"{k}:gold"])))
    if quotes:
        for key, label, short, (tp, pred, gold) in QUOTE_F1:
            out.append((key, label, short, lambda s, c=(tp, pred, gold): _f1(*(s[n] for n in c))))
        for key, label, (num, den) in QUOTE_ACCURACY:
            out.append((key, label, "", lambda s, num=num, den=den: _ratio(100 * s[num], s[den])))
    return out


def bootstrap_figures(rows_a: list[Counter], rows_b: list[Counter], quotes: bool, resamples: int = RESAMPLES,
                      seed: int = SEED) -> list[Figure]:
    """Each figure for A and B on all documents, and the 95 % interval of B − A over
    ``resamples`` resamples of the documents (with replacement; the same resample for both)."""
    # A count no document has is 0 (quote_counts adds only the counts it meets).
    needed = {name for *_, counts in QUOTE_F1 + QUOTE_ACCURACY for name in counts} if quotes else set()
    names = sorted(needed.union(*rows_a, *rows_b))
    n = len(rows_a)
    counts_a = np.array([[row[name] for name in names] for row in rows_a], dtype=float).reshape(n, len(names))
    counts_b = np.array([[row[name] for name in names] for row in rows_b], dtype=float).reshape(n, len(names))
    # How often each document is drawn in each resample; the counts summed over the draws,
    # a few resamples at a time so that a large corpus needs no resamples x documents matrix.
    rng, chunk = np.random.default_rng(seed), max(1, 1_000_000 // max(n, 1))
    sums_a, sums_b = [], []
    for start in range(0, resamples, chunk):
        weights = rng.multinomial(n, np.full(n, 1 / n), size=min(chunk, resamples - start)).astype(float)
        sums_a.append(weights @ counts_a)
        sums_b.append(weights @ counts_b)

    def columns(sums):
        return {name: sums[:, j] for j, name in enumerate(names)}

    full_a, full_b = columns(counts_a.sum(0, keepdims=True)), columns(counts_b.sum(0, keepdims=True))
    drawn_a, drawn_b = columns(np.concatenate(sums_a)), columns(np.concatenate(sums_b))
    figures = []
    for key, label, chart_name, figure in measures(set(names), quotes):
        differences = figure(drawn_b) - figure(drawn_a)
        low, high = np.percentile(differences, [2.5, 97.5])
        figures.append(Figure(key, label, round(float(figure(full_a)[0]), 2), round(float(figure(full_b)[0]), 2),
                              (round(float(low), 2), round(float(high), 2)), chart_name))
    return figures


# ---- the comparison -------------------------------------------------------------------
def disagreements(documents: dict[str, tuple[Document, Document, Document]]) -> list[Disagreement]:
    """Every document where A's and B's spans differ: most differing spans first, then the
    largest difference in errors against gold."""
    from .report import errors_of

    found = [Disagreement(doc_id, errors_of(a, b), errors_of(gold, a), errors_of(gold, b))
             for doc_id, (gold, a, b) in documents.items()]
    found = [d for d in found if d.differing_spans]
    return sorted(found, key=lambda d: (-d.differing_spans, -abs(d.errors_a - d.errors_b)))


def compare_predictions(gold: list[Document], pred_a: list[Document], pred_b: list[Document], layers: list[str],
                        model_a: str = "A", model_b: str = "B", data: str = "", notes: Sequence[str] = (),
                        resamples: int = RESAMPLES) -> Comparison:
    """A and B's predictions of the same gold documents, compared on ``layers``."""
    gold = [restricted(g, layers) for g in gold]
    pairs_a = pair_documents(gold, [restricted(p, layers) for p in pred_a])
    pairs_b = pair_documents(gold, [restricted(p, layers) for p in pred_b])
    quotes = "quotes" in layers and any("quotes" in g.layers for g in gold)
    figures = bootstrap_figures(document_counts(pairs_a), document_counts(pairs_b), quotes, resamples)
    documents = {g.id: (g, a, b) for (g, a), (_, b) in zip(pairs_a, pairs_b)}
    return Comparison(model_a, model_b, data, list(layers), list(notes), figures, disagreements(documents),
                      {"a": evaluate(gold, [a for _, a in pairs_a], scores=True),
                       "b": evaluate(gold, [b for _, b in pairs_b], scores=True)},
                      documents, resamples)


def compare_models(tagger_a, tagger_b, model_a: Path, model_b: Path, gold: list[Document], data: Path,
                   batch_size: int = 16, resamples: int = RESAMPLES) -> Comparison:
    """Both models run on the gold documents and compared on the layers both have."""
    from .progress import progress

    if not gold:
        raise CompareError(f"{data}: no documents to compare on")
    try:
        pair_documents(gold, gold)  # repeated ids: refused before any tagging
    except ValueError as exc:
        raise CompareError(f"{data}: {exc}") from None
    layers, notes = compared_layers(gold, tagger_a.model.layers, tagger_b.model.layers, str(model_a), str(model_b),
                                    str(data))
    preds = [list(progress(tagger.pipe(gold, batch_size=batch_size), desc=name, unit="doc", total=len(gold)))
             for name, tagger in (("A", tagger_a), ("B", tagger_b))]
    return compare_predictions(gold, *preds, layers, str(model_a), str(model_b), str(data), notes, resamples)


# ---- what is written ------------------------------------------------------------------
def print_comparison(c: Comparison, top: int = TOP_DOCUMENTS) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console()
    t = Table(title=Text(f"A: {c.model_a}\nB: {c.model_b}\n{len(c.documents)} documents of {c.data}; "
                         f"95 % intervals of B − A: paired bootstrap, {c.resamples} resamples"))
    for col in ("figure", "A", "B", "B − A", "95 % interval", "beyond noise"):
        t.add_column(col, justify="left" if col == "figure" else "right")
    for f in c.figures:
        t.add_row(f.label, f"{f.a:.2f}", f"{f.b:.2f}", f"{f.difference:+.2f}",
                  f"{f.interval[0]:+.2f} to {f.interval[1]:+.2f}", "yes" if f.beyond_noise else "no")
    for note in c.notes:
        console.print(note, markup=False, highlight=False)
    console.print(t)
    if not c.disagreements:
        console.print("A and B agree on every span of every document.")
        return
    t = Table(title=f"The {min(top, len(c.disagreements))} documents (of {len(c.disagreements)} that differ) "
                    "where A and B disagree most")
    for col in ("document", "spans that differ", "errors of A", "errors of B"):
        t.add_column(col, justify="left" if col == "document" else "right")
    for d in c.disagreements[:top]:
        t.add_row(Text(d.id), str(d.differing_spans), str(d.errors_a), str(d.errors_b))
    console.print(t)


COMPARE_CSS = """
table.figures { border-collapse: collapse; }
table.figures td, table.figures th { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: right; }
table.figures td:first-child, table.figures th:first-child { text-align: left; font-weight: normal; }
table.figures tr.beyond td { font-weight: bold; }
table.figures caption { caption-side: bottom; font-size: 0.85em; color: #555; padding-top: 0.4em; text-align: left; }
p.note { border-left: 4px solid #E69F00; padding-left: 0.6em; }
.pair .doc { grid-template-columns: minmax(0, 1fr); }
"""


def figures_table(c: Comparison) -> str:
    head = "".join(f"<th>{h}</th>" for h in ("figure", "A", "B", "B − A", "95 % interval of B − A", "beyond noise"))
    rows = "".join(
        f'<tr class="{"beyond" if f.beyond_noise else "noise"}"><td>{escape(f.label)}</td><td>{f.a:.2f}</td>'
        f"<td>{f.b:.2f}</td><td>{f.difference:+.2f}</td><td>{f.interval[0]:+.2f} to {f.interval[1]:+.2f}</td>"
        f"<td>{'yes' if f.beyond_noise else 'no'}</td></tr>" for f in c.figures)
    notes = "".join(f'<p class="note">{escape(note)}</p>' for note in c.notes)
    return (f"<p>A: {escape(c.model_a)}<br>B: {escape(c.model_b)}<br>{len(c.documents)} documents of "
            f"{escape(c.data)}; layers compared: {escape(', '.join(c.layers))}</p>{notes}"
            f'<table class="figures"><caption>Figures as <code>newstag evaluate</code> reports them (entity F1: '
            f"seqeval, strict IOB2, micro-averaged). B − A with the 95 % interval of a paired bootstrap over the "
            f"documents ({c.resamples} resamples, both models scored on each): \"yes\" where the interval excludes 0, "
            f"so the difference is not resampling noise</caption><tr>{head}</tr>{rows}</table>")


def per_label_chart(c: Comparison, plt) -> str:
    """F1 of A and of B for each entity label and each quote measure."""
    from .report import grouped_bars

    shown = [f for f in c.figures if f.chart_name]
    if not shown:
        return ""
    return grouped_bars(plt, [f.chart_name for f in shown], {"A": [f.a for f in shown], "B": [f.b for f in shown]},
                        "F1 (%)", "F1 per label and measure: A against B")


def differences_chart(c: Comparison, plt) -> str:
    """B − A for every figure with its 95 % interval, against the zero line."""
    from .report import PALETTE, inline_svg

    if not c.figures:
        return ""
    fig, ax = plt.subplots(figsize=(7.5, 0.3 * len(c.figures) + 1))
    y = list(range(len(c.figures)))
    below = [max(f.difference - f.interval[0], 0) for f in c.figures]
    above = [max(f.interval[1] - f.difference, 0) for f in c.figures]
    ax.axvline(0, color="#999999", linestyle=":")
    ax.errorbar([f.difference for f in c.figures], y, xerr=[below, above], fmt="o", color=PALETTE[0], capsize=3)
    ax.set_yticks(y, [f.chart_name or f.key.replace("_", " ") for f in c.figures])
    ax.invert_yaxis()
    ax.set_xlabel("B − A (points), with its 95 % interval")
    ax.set_title("Differences: an interval across the dotted line is within resampling noise")
    return inline_svg(fig)


def disagreeing_documents(c: Comparison, top: int) -> str:
    from .report import side_by_side

    if not c.disagreements:
        return "<p>A and B agree on every span of every document.</p>"
    rows = "".join(f"<tr><td>{escape(d.id)}</td><td>{d.differing_spans}</td><td>{d.errors_a}</td>"
                   f"<td>{d.errors_b}</td></tr>" for d in c.disagreements[:top])
    table = ('<table class="figures"><tr><th>document</th><th>spans that differ between A and B</th>'
             f"<th>errors of A</th><th>errors of B</th></tr>{rows}</table>")
    shown = []
    for d in c.disagreements[:top]:
        gold, a, b = c.documents[d.id]
        shown.append(side_by_side(f"{d.id}: {d.differing_spans} spans differ between A and B "
                                  f"(errors against gold: A {d.errors_a}, B {d.errors_b})",
                                  [("gold", gold), (f"A: {c.model_a}", a), (f"B: {c.model_b}", b)]))
    return table + "".join(shown)


def render_comparison(c: Comparison, title: str, top: int = TOP_DOCUMENTS) -> str:
    """The whole page."""
    from .report import pyplot, report_page

    plt = pyplot()
    shown = min(top, len(c.disagreements))
    sections = [("Figures: A against B", figures_table(c)),
                ("F1 per label", per_label_chart(c, plt)),
                ("Differences", differences_chart(c, plt)),
                (f"The {shown} documents where A and B disagree most" if shown else "Documents where A and B disagree",
                 disagreeing_documents(c, top))]
    plt.close("all")
    return report_page(title, sections, COMPARE_CSS)


def write_report(c: Comparison, folder: Path, title: str, top: int = TOP_DOCUMENTS) -> None:
    """compare.json and compare.html in ``folder`` (the page drawn before either is written)."""
    from .files import write_text

    page = render_comparison(c, title, top)
    folder.mkdir(parents=True, exist_ok=True)
    write_text(folder / "compare.json", json.dumps(c.to_json(), indent=2, ensure_ascii=False))
    write_text(folder / "compare.html", page)
