"""The model card: a README.md in every trained model directory, in the Hugging Face style.

Says what the model is for and how far to trust it: front matter a hub can index, the
training data and its licence, the configuration, the dev figures of the best epoch, the
figures of every ``newstag evaluate --report`` run on it (kept in ``evaluations.json``
beside the card), how well its scores are calibrated, intended use and known limits.
``train`` writes it when a run ends; ``evaluate --report`` adds its figures and writes it
again. Neither file belongs to the manifest: the model's weights and config are unchanged.
"""
from __future__ import annotations

import json
from pathlib import Path

from .evaluation import headline
from .files import write_text

CARD = "README.md"
EVALUATIONS = "evaluations.json"
# Licences of the corpora newstag knows by name; others are the user's to state.
KNOWN_LICENCES = {"newswire": "CC BY 4.0 (data/newswire, the newstag authors)",
                  "conll": "CoNLL-2003 (Reuters RCV1 text: research use under Reuters' terms)",
                  "polnear": "PolNeAR (research use, as distributed by its authors)"}
INTENDED_USE = (
    "Finding named entities (people, organisations, places, other names) and attributed quotes "
    "(what was said, the cue, the speaker and the person or organisation a pronoun or description "
    "stands for) in English news text, for newsroom data teams and media research: counting who is "
    "quoted, archiving quotes, checking sources. Not for decisions about individuals without a person "
    "reading the text: spans and links are wrong at the rates shown below.")
KNOWN_LIMITS = (
    "Figures hold for text like the evaluation data; other genres, other languages and other "
    "annotation conventions score lower. The default encoder is uncased: casing comes back "
    "through a word-shape feature. Speakers more than three paragraphs before a quote are never "
    "candidates. Scores are calibrated on the training run's dev data and are only as honest as "
    "that data is like yours.")


def _read_json(path: Path, default):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return default


def _run_config(model_dir: Path) -> dict:
    """The run's config as the last ``start`` event of metrics.jsonl recorded it."""
    config = {}
    metrics = model_dir / "metrics.jsonl"
    if metrics.is_file():
        for line in metrics.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("event") == "start":
                config = record.get("config", {})
    return config


def record_evaluation(model_dir, data: str, result: dict) -> None:
    """Keep one evaluation's headline figures beside the card, then rewrite the card."""
    model_dir = Path(model_dir)
    evaluations = _read_json(model_dir / EVALUATIONS, {})
    evaluations[data] = {"documents": result["documents"], **headline(result)}
    write_text(model_dir / EVALUATIONS, json.dumps(evaluations, indent=2) + "\n")
    write_model_card(model_dir)


def _figures_table(rows: dict[str, dict]) -> list[str]:
    names = sorted({k for figures in rows.values() for k in figures if k != "documents"})
    lines = ["| data | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for data, figures in rows.items():
        lines.append(f"| {data} | " + " | ".join(str(figures.get(n, "–")) for n in names) + " |")
    return lines


def card_text(model_dir: Path) -> str:
    spec = _read_json(model_dir / "config.json", {})
    manifest = _read_json(model_dir / "manifest.json", {})
    run = _run_config(model_dir)
    model = spec.get("model", {})
    encoder = model.get("encoder", {})
    encoder_name = encoder.get("name_or_path") or encoder.get("package") or "a configured encoder"
    training = spec.get("training") or {}
    corpora = run.get("train", [])
    licences = sorted({KNOWN_LICENCES.get(c.get("name", ""), f"{c.get('name')}: state its licence") for c in corpora})
    lines = ["---", "library_name: newstag", "language: en", "pipeline_tag: token-classification",
             "tags: [named-entity-recognition, quote-attribution, news]", "---", "",
             f"# {training.get('run_name') or model_dir.name}", "",
             f"A newstag model (newstag {spec.get('newstag_version', '?')}): entities "
             f"({', '.join(model.get('entity_labels', []))}) and quote attribution, one fine-tuned encoder "
             f"({encoder_name}) with {'CRF' if model.get('crf') else 'softmax'} heads"
             f"{' over a BiLSTM of ' + str(model.get('context_lstm')) if model.get('context_lstm') else ''} "
             f"and the {model.get('linker', 'rule')} linker.", "",
             "## Training data", ""]
    lines += [f"* {c.get('name')}: `{c.get('path')}` (weight {c.get('weight', 1.0)})" for c in corpora] or ["* not recorded"]
    lines += ["", "Licences: " + ("; ".join(licences) if licences else "not recorded") + ".", "",
              "## Configuration", "", "```json", json.dumps(model, indent=1), "```", ""]
    if run.get("training"):
        t = run["training"]
        lines += [f"Training: {t.get('epochs')} epochs, batch {t.get('batch_size')}, encoder lr {t.get('lr_encoder')}, "
                  f"head lr {t.get('lr_head')}, seed {t.get('seed')}.", ""]
    if training.get("dev"):
        lines += [f"## Dev figures (best epoch, {training.get('best_epoch')})", "", *_figures_table(training["dev"]), ""]
    evaluations = _read_json(model_dir / EVALUATIONS, {})
    if evaluations:
        lines += ["## Evaluations (`newstag evaluate --report`)", "", *_figures_table(evaluations), ""]
    calibration = manifest.get("calibration", {})
    if calibration:
        fitted = {backend: ", ".join(c.get("fitted_on", [])) for backend, c in calibration.items()}
        lines += ["## Scores", "", "Each score is a probability of a stated event (see newstag's README, "
                  "\"Scores\"), calibrated on: " + "; ".join(f"{b}: {f}" for b, f in fitted.items()) + ".", ""]
    lines += ["## Intended use", "", INTENDED_USE, "", "## Known limits", "", KNOWN_LIMITS, ""]
    return "\n".join(lines)


def write_model_card(model_dir) -> None:
    model_dir = Path(model_dir)
    write_text(model_dir / CARD, card_text(model_dir))
