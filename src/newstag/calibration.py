"""What each score means, and maps that make it mean it.

Every score newstag writes is meant as a probability of one event:

* ``entity.score``: the entity's span and label are exactly right;
* ``quote.score``: the quote's content span is exactly right;
* ``quote.cue.score``, ``quote.speaker.score``: that span is exactly a gold cue / speaker span;
* ``quote.speaker_score``: the quote's speaker decision is right: it names the speaker of
  the gold quote the quote finds (>= 50 % word overlap, as attribution accuracy counts),
  or says "no speaker" where the gold quote has none.

Raw scores are the chain's span marginals (``crf.span_marginals``) and the learned
linker's probability for its choice. A Platt map per kind, sigmoid(a * logit(raw) + b)
with a >= 0 (so the order of scores, and AUROC, are kept), is fitted on dev at the end of
training and stored in the model directory's manifest (``modeldir.write_calibration``);
``Tagger`` applies it to what it writes. ``figures`` says how well scores are calibrated:
expected calibration error, AUROC, and the precision of scores >= 0.9 with a bootstrap
interval.
"""
from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass

from .document import Document
from .matching import matched_quotes, same_speaker

KINDS = ("entity", "quote", "cue", "speaker", "attribution")
MIN_EACH_CLASS = 5  # fewer right (or wrong) examples than this: the map stays the identity
# The slope never falls below this: scores keep their order, also once rounded to four
# decimals (a slope near 0 maps every score to one value and discards what ranks them).
MIN_SLOPE = 0.1
BINS = 10
HIGH = 0.9


@dataclass
class PlattMap:
    a: float = 1.0
    b: float = 0.0

    def __call__(self, p: float) -> float:
        return _sigmoid(self.a * _logit(p) + self.b)


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))


# ---- examples: (raw score, right or wrong) per kind ----------------------------------
def scored_examples(pred: Document, gold: Document) -> dict[str, list[tuple[float, bool]]]:
    """Each scored prediction of a document and whether it is right, by kind."""
    out = {kind: [] for kind in KINDS}
    gold_entities = {(e.start, e.end, e.label) for e in gold.entities}
    out["entity"] = [(e.score, (e.start, e.end, e.label) in gold_entities) for e in pred.entities if e.score is not None]
    gold_quotes = {(q.start, q.end) for q in gold.quotes}
    out["quote"] = [(q.score, (q.start, q.end) in gold_quotes) for q in pred.quotes if q.score is not None]
    for part in ("cue", "speaker"):
        gold_spans = {(getattr(q, part).start, getattr(q, part).end) for q in gold.quotes if getattr(q, part)}
        seen = {}
        for q in pred.quotes:
            s = getattr(q, part)
            if s is not None and s.score is not None:
                seen[(s.start, s.end)] = s.score  # a cue or speaker shared by several quotes counts once
        out[part] = [(score, span in gold_spans) for span, score in seen.items()]
    found = matched_quotes(gold.text, gold.quotes, pred.quotes)
    out["attribution"] = [(q.speaker_score, i in found and same_speaker(gold.text, found[i], q))
                          for i, q in enumerate(pred.quotes) if q.speaker_score is not None]
    return out


def pooled_examples(pairs) -> dict[str, list[tuple[float, bool]]]:
    """``scored_examples`` over (gold, predicted) document pairs, pooled by kind."""
    pooled = {kind: [] for kind in KINDS}
    for gold, pred in pairs:
        for kind, examples in scored_examples(pred, gold).items():
            pooled[kind] += examples
    return pooled


# ---- fitting and applying -------------------------------------------------------------
def fit_platt(examples: list[tuple[float, bool]], steps: int = 100) -> PlattMap:
    """The Platt map that minimises log loss on the examples: damped Newton steps on two
    parameters, each step halved until the loss falls (scores near 1 make the curvature
    tiny and a full step overshoot); the identity when either class has fewer than
    MIN_EACH_CLASS examples."""
    right = sum(1 for _, ok in examples if ok)
    if right < MIN_EACH_CLASS or len(examples) - right < MIN_EACH_CLASS:
        return PlattMap()
    xs = [_logit(p) for p, _ in examples]
    ys = [1.0 if ok else 0.0 for _, ok in examples]

    def loss(a, b):
        return sum(math.log1p(math.exp(-abs(z))) + max(z, 0) - y * z for x, y in zip(xs, ys) for z in [a * x + b])

    a, b = 1.0, 0.0
    current = loss(a, b)
    for _ in range(steps):
        ga = gb = haa = hab = hbb = 0.0
        for x, y in zip(xs, ys):
            p = _sigmoid(a * x + b)
            w = max(p * (1 - p), 1e-12)
            ga += (p - y) * x
            gb += p - y
            haa += w * x * x
            hab += w * x
            hbb += w
        det = haa * hbb - hab * hab + 1e-9
        da, db = (hbb * ga - hab * gb) / det, (haa * gb - hab * ga) / det
        for _ in range(30):
            trial = (max(a - da, MIN_SLOPE), b - db)
            if loss(*trial) <= current:
                break
            da, db = da / 2, db / 2
        else:
            break  # no step lowers the loss: at the (constrained) minimum
        moved = abs(trial[0] - a) + abs(trial[1] - b)
        (a, b), current = trial, loss(*trial)
        if moved < 1e-9:
            break
    return PlattMap(a, b)


def fit(pairs) -> dict[str, PlattMap]:
    """A map per kind from (gold, raw-scored prediction) document pairs."""
    return {kind: fit_platt(examples) for kind, examples in pooled_examples(pairs).items()}


def to_json(maps: dict[str, PlattMap]) -> dict:
    return {kind: asdict(m) for kind, m in maps.items()}


def from_json(raw: dict) -> dict[str, PlattMap]:
    return {kind: PlattMap(**raw[kind]) for kind in KINDS if kind in raw}


def apply(doc: Document, maps: dict[str, PlattMap]) -> Document:
    """A copy of the document with every score mapped (kinds without a map unchanged)."""
    doc = doc.model_copy(deep=True)

    def mapped(kind, score):
        return score if score is None or kind not in maps else round(maps[kind](score), 4)

    for e in doc.entities:
        e.score = mapped("entity", e.score)
    for q in doc.quotes:
        q.score = mapped("quote", q.score)
        q.speaker_score = mapped("attribution", q.speaker_score)
        for part in ("cue", "speaker"):
            span = getattr(q, part)
            if span is not None:
                span.score = mapped(part, span.score)
    return doc


# ---- how well calibrated --------------------------------------------------------------
def reliability_bins(examples: list[tuple[float, bool]], bins: int = BINS) -> list[tuple[int, float, float]]:
    """(examples, mean score, share right) of each non-empty equal-width score bin."""
    out = []
    for k in range(bins):
        lo, hi = k / bins, (k + 1) / bins
        in_bin = [(p, ok) for p, ok in examples if lo <= p < hi or (k == bins - 1 and p == 1.0)]
        if in_bin:
            out.append((len(in_bin), sum(p for p, _ in in_bin) / len(in_bin), sum(ok for _, ok in in_bin) / len(in_bin)))
    return out


def expected_calibration_error(examples: list[tuple[float, bool]], bins: int = BINS) -> float:
    """Mean |share right - mean score| over equal-width score bins, weighted by their size."""
    if not examples:
        return 0.0
    return sum(n * abs(right - score) for n, score, right in reliability_bins(examples, bins)) / len(examples)


def auroc(examples: list[tuple[float, bool]]) -> float | None:
    """P(a right example scores above a wrong one), ties counted half; None without both."""
    ranked = sorted(examples, key=lambda e: e[0])
    n_right = sum(ok for _, ok in ranked)
    n_wrong = len(ranked) - n_right
    if not n_right or not n_wrong:
        return None
    rank_sum, i = 0.0, 0
    while i < len(ranked):
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        mean_rank = (i + j + 1) / 2  # ranks are 1-based; ties share the mean
        rank_sum += mean_rank * sum(ok for _, ok in ranked[i:j])
        i = j
    return (rank_sum - n_right * (n_right + 1) / 2) / (n_right * n_wrong)


def precision_above(examples, threshold: float = HIGH, resamples: int = 1000, seed: int = 13) -> dict:
    """Precision of the examples scored >= threshold, with a 95 % bootstrap interval."""
    kept = [ok for p, ok in examples if p >= threshold]
    if not kept:
        return {"count": 0, "precision": None, "interval": None}
    rng = random.Random(seed)
    draws = sorted(sum(rng.choices(kept, k=len(kept))) / len(kept) for _ in range(resamples))
    return {"count": len(kept), "precision": round(100 * sum(kept) / len(kept), 2),
            "interval": [round(100 * draws[int(0.025 * resamples)], 2), round(100 * draws[int(0.975 * resamples) - 1], 2)]}


def figures(examples: dict[str, list[tuple[float, bool]]]) -> dict:
    """Per kind: examples, share right, ECE, AUROC, precision of scores >= 0.9."""
    out = {}
    for kind, ex in examples.items():
        if not ex:
            continue
        a = auroc(ex)
        out[kind] = {"examples": len(ex), "right": round(100 * sum(ok for _, ok in ex) / len(ex), 2),
                     "ece": round(expected_calibration_error(ex), 4), "auroc": None if a is None else round(a, 4),
                     f"at_least_{HIGH}": precision_above(ex)}
    return out


def raw_and_calibrated_figures(pairs, maps: dict[str, PlattMap]) -> dict:
    """``figures`` of the raw scores and of the same scores through the maps."""
    raw = pooled_examples(pairs)
    calibrated = {kind: [(maps[kind](p) if kind in maps else p, ok) for p, ok in ex] for kind, ex in raw.items()}
    return {"raw": figures(raw), "calibrated": figures(calibrated)}


# ---- a model directory ----------------------------------------------------------------
def calibrate_model(model_dir, gold_sets: dict[str, list[Document]], device: str = "auto",
                    batch_size: int = 8, backend: str = "torch") -> dict:
    """Fit the maps on the model's raw scores of the gold sets (dev) as ``backend`` computes
    them (an int8 graph's scores are not the torch model's), store them in its manifest
    under that backend, and return the raw and calibrated figures on those sets."""
    from .modeldir import write_calibration
    from .tagger import Tagger

    tagger = Tagger.load(model_dir, device=device, calibrated=False, backend=backend)
    pairs = [(g, p) for docs in gold_sets.values() for g, p in zip(docs, tagger.pipe(docs, batch_size=batch_size))]
    maps = fit(pairs)
    write_calibration(model_dir, to_json(maps), fitted_on=sorted(gold_sets), backend=backend)
    return raw_and_calibrated_figures(pairs, maps)
