"""Scores are probabilities of a stated event, and calibration makes them honest.

calibration.py says what each score means; these tests pin the meaning (which
predictions count as right), the maps (fitted on one split, better on another, order
kept), the figures (ECE, AUROC, precision of high scores), and that a model directory
carries its maps and the tagger applies them.
"""
import json
import random

import pytest

from newstag import calibration as C
from newstag.document import Document, Entity, Quote, Span


def overconfident(n, seed):
    """Examples whose scores claim more than they deliver: right with probability score**3."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        p = rng.uniform(0.3, 1.0)
        out.append((p, rng.random() < p ** 3))
    return out


def test_a_map_fitted_on_one_split_lowers_the_calibration_error_on_another():
    fitted_on, held_out = overconfident(2000, 1), overconfident(2000, 2)
    platt = C.fit_platt(fitted_on)
    mapped = [(platt(p), ok) for p, ok in held_out]
    assert C.expected_calibration_error(mapped) < C.expected_calibration_error(held_out) / 2
    assert C.auroc(mapped) == pytest.approx(C.auroc(held_out)), "the map keeps the order of scores"


def test_too_few_right_or_wrong_examples_leave_the_scores_as_they_are():
    assert C.fit_platt([(0.9, True)] * 50 + [(0.2, False)] * 2) == C.PlattMap()
    assert C.PlattMap()(0.73) == pytest.approx(0.73)


def test_the_figures_mean_what_they_say():
    half_right = [(0.25, False)] * 4 + [(0.75, True)] * 3 + [(0.75, False)]
    # scores 0.25, none right: off by 0.25; scores 0.75, three of four right: off by 0; half the examples each
    assert C.expected_calibration_error(half_right) == pytest.approx(0.125)
    assert C.auroc([(0.1, False), (0.2, True), (0.3, False), (0.4, True)]) == pytest.approx(0.75)
    assert C.auroc([(0.5, False), (0.5, True)]) == pytest.approx(0.5), "ties count half"
    assert C.auroc([(0.5, True)]) is None
    high = C.precision_above([(0.95, True)] * 9 + [(0.92, False), (0.5, False)])
    assert high["count"] == 10 and high["precision"] == 90.0
    assert high["interval"][0] <= 90.0 <= high["interval"][1]


TEXT = "Ana Ruiz said talks would resume. The union said no. Ruiz left."


def doc(entities, quotes):
    return Document(id="d", text=TEXT, entities=entities, quotes=quotes)


def test_what_counts_as_right_for_each_score():
    said_1, said_2 = Span(start=9, end=13), Span(start=44, end=48)
    gold = doc([Entity(start=0, end=8, label="PER"), Entity(start=34, end=43, label="ORG")],
               [Quote(start=14, end=32, kind="indirect", cue=said_1, speaker=Span(start=0, end=8)),
                Quote(start=49, end=51, kind="indirect", cue=said_2, speaker=Span(start=34, end=43))])
    pred = doc([Entity(start=0, end=8, label="PER", score=0.9), Entity(start=34, end=43, label="PER", score=0.8)],
               [Quote(start=14, end=32, kind="indirect", score=0.9, cue=Span(start=9, end=13, score=0.7),
                      speaker=Span(start=0, end=8, score=0.6), speaker_score=0.9),
                Quote(start=49, end=52, kind="indirect", score=0.5, cue=Span(start=44, end=48, score=0.4),
                      speaker=Span(start=0, end=8, score=0.6), speaker_score=0.3)])
    ex = C.scored_examples(pred, gold)
    assert ex["entity"] == [(0.9, True), (0.8, False)], "span and label both exact"
    assert ex["quote"] == [(0.9, True), (0.5, False)], "content span exact"
    assert ex["cue"] == [(0.7, True), (0.4, True)]
    assert ex["speaker"] == [(0.6, True)], "a speaker span shared by two quotes is one prediction"
    assert ex["attribution"] == [(0.9, True), (0.3, False)], "the second quote is found, but its speaker is not the union"


def test_a_model_directory_carries_its_maps_and_the_tagger_applies_them(tiny_model, gold_docs, tmp_path):
    import shutil

    from newstag.modeldir import read_calibration, read_manifest
    from newstag.tagger import Tagger

    assert read_calibration(tiny_model), "training fits the maps on dev"
    model = tmp_path / "m"
    shutil.copytree(tiny_model, model)
    (model / "manifest.json").write_text(json.dumps(
        read_manifest(model) | {"calibration": {"torch": {"maps": {"entity": {"a": 0.5, "b": -1.0}}}}}))
    raw, mapped = Tagger.load(model, device="cpu", calibrated=False), Tagger.load(model, device="cpu")
    a, b = next(raw.pipe(gold_docs[:1])), next(mapped.pipe(gold_docs[:1]))
    assert [(e.start, e.end, e.label) for e in a.entities] == [(e.start, e.end, e.label) for e in b.entities]
    assert a.entities, "the tiny model finds something to score"
    assert [e.score for e in b.entities] == [round(C.PlattMap(0.5, -1.0)(e.score), 4) for e in a.entities]
    assert [q.score for q in a.quotes] == [q.score for q in b.quotes], "kinds without a map keep their scores"


def test_calibrate_refits_the_maps_from_the_command_line(tiny_model, gold_docs, tmp_path):
    import shutil

    from typer.testing import CliRunner

    from newstag.cli import app
    from newstag.document import write_jsonl
    from newstag.modeldir import read_manifest

    model = tmp_path / "m"
    shutil.copytree(tiny_model, model)
    gold = tmp_path / "dev.jsonl"
    write_jsonl(gold_docs, gold)
    result = CliRunner().invoke(app, ["calibrate", "-m", str(model), "-d", str(gold)])
    assert result.exit_code == 0, result.output
    assert "ECE" in result.output
    assert read_manifest(model)["calibration"]["torch"]["fitted_on"] == [str(gold)]
    gold.write_text('{"id": 1}\n')
    result = CliRunner().invoke(app, ["calibrate", "-m", str(model), "-d", str(gold)])
    assert result.exit_code == 2 and f"{gold}:1" in result.stderr
