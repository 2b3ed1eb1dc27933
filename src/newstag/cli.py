"""The command line: ``newstag train | evaluate | predict | tables | quotes | data ...``."""
from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from .labels import ENTITY_LABELS
from .reading import MAX_CHARS

app = typer.Typer(help="newstag: who is named and who said what, in news text.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
data_app = typer.Typer(help="Build and check annotated corpora.", no_args_is_help=True)
app.add_typer(data_app, name="data")


def fail(message: str, code: int = 2):
    typer.secho(message, err=True, fg=typer.colors.RED)
    raise typer.Exit(code)


@app.command()
def train(
    config: Path = typer.Option(..., "--config", "-c", help="a YAML run config (configs/*.yaml)"),
    set_: List[str] = typer.Option([], "--set", help="override a config key: training.epochs=2"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="model directory (default models/NAME)"),
    device: Optional[str] = typer.Option(None, help="auto, cpu or cuda (overrides the config)"),
    progress: Optional[bool] = typer.Option(None, help="show a progress bar (default: when stderr is a terminal)"),
    resume: bool = typer.Option(False, "--resume", help="continue the unfinished run in --output from its last "
                                                        "checkpoint (same config and processes; device and threads "
                                                        "may differ)"),
    processes: Optional[int] = typer.Option(None, "--processes", min=1, help="train in N data-parallel processes "
                                            "(default 1, or as many as torchrun / accelerate launch started): on "
                                            "CPU they share the cores, on CUDA each takes a GPU"),
):
    """Train on the config's train corpora, scoring its dev corpora each epoch; keep the best.

    A checkpoint is written after every epoch; a run that was killed continues with --resume."""
    from .checkpoint import ResumeError
    from .config import load_config
    from .runtime import (DeviceError, LaunchError, ProcessesFailed, check_batch, check_gpus, is_main_process, launch,
                          launched, pick_device, threads_per_process)
    from .training import CorpusError, train as run_training

    overrides = list(set_) + ([f"training.device={device}"] if device else [])
    try:
        cfg = load_config(config, overrides)
    except (ValueError, FileNotFoundError) as exc:
        fail(str(exc))
    out = output or Path("models") / cfg.name
    if processes and processes > 1 and not launched():
        # torchrun starts this command again in each process (`torchrun --standalone
        # --nproc-per-node N -m newstag.cli train ...`); each checks that there are N.
        try:
            check_gpus(processes, pick_device(cfg.training.device))
            check_batch(processes, cfg.training.batch_size, cfg.training.grad_accumulation)
            again = ["train", "--config", str(config), *(a for s in set_ for a in ("--set", s)), "--output", str(out),
                     *(["--device", device] if device else []), "--processes", str(processes),
                     *(["--progress"] if progress else ["--no-progress"] if progress is False else []),
                     *(["--resume"] if resume else [])]
            launch(processes, again, threads_per_process(cfg.training.num_threads, processes))
        except (DeviceError, LaunchError) as exc:
            fail(str(exc))
        except ProcessesFailed as exc:
            if str(exc):
                fail(str(exc), exc.code)
            raise typer.Exit(exc.code)  # a usage or set-up error, which the main process reported
        return
    try:
        summary = run_training(cfg, out, progress=progress, log=lambda m: typer.echo(m, err=True), resume=resume,
                               processes=processes)
    except (ResumeError, CorpusError, DeviceError, LaunchError) as exc:
        if not is_main_process():
            raise typer.Exit(2)  # every process meets the same error; the main one says it
        fail(str(exc))
    if is_main_process():
        typer.echo(json.dumps({"model": str(out), **summary}, indent=2))


BACKEND_HELP = "torch, or onnx-int8: the int8 graph `newstag export` wrote (CPU)"


def _load_tagger(model: Path, device: str, linker: Optional[str], backend: str = "torch",
                 threads: Optional[int] = None):
    """A Tagger, or one line naming what is wrong with the model directory (exit 2)."""
    from .modeldir import ModelDirError
    from .tagger import Tagger

    try:
        return Tagger.load(model, device=device, linker=linker, backend=backend, threads=threads)
    except (ModelDirError, ValueError, RuntimeError) as exc:
        fail(str(exc))


def _load_gold(data: Path, data_format: str):
    from .formats import load_corpus

    return load_corpus(data_format, str(data))


@app.command()
def evaluate(
    model: Path = typer.Option(..., "--model", "-m", help="a trained model directory"),
    data: Path = typer.Option(..., "--data", "-d", help="gold documents"),
    data_format: str = typer.Option("jsonl", help="jsonl, conll, brat, label-studio, markup"),
    report: Optional[Path] = typer.Option(None, help="write report.json, report.md and report.html (one offline page "
                                                     "with charts and the worst documents) here"),
    batch_size: int = typer.Option(16, min=1),
    device: str = typer.Option("auto"),
    linker: Optional[str] = typer.Option(None, help="rule or learned (default: the model's own)"),
    backend: str = typer.Option("torch", help=BACKEND_HELP),
):
    """Score a model on gold data: seqeval entities, quote spans, attribution."""
    from .evaluation import evaluate as score, to_markdown

    try:
        gold = _load_gold(data, data_format)
    except (OSError, ValueError) as exc:  # FormatError is a ValueError naming file, line and field
        fail(f"{data}: {exc}" if isinstance(exc, OSError) else str(exc))
    if not gold:
        fail(f"{data}: no documents to evaluate on")
    tagger = _load_tagger(model, device, linker, backend)
    from .progress import progress

    preds = list(progress(tagger.pipe(gold, batch_size=batch_size), desc="evaluate", unit="doc", total=len(gold)))
    try:
        result = score(gold, preds, scores=True)
    except ValueError as exc:
        fail(f"{data}: {exc}")
    result["model"], result["data"] = str(model), str(data)
    markdown = to_markdown(result, f"newstag evaluation: {model} on {data}")
    if report:
        from .files import write_text
        from .report import ReportError, render_report

        try:
            page = render_report(result, gold, preds, model_dir=model, title=f"newstag evaluation: {model.name} on {data.name}")
        except ReportError as exc:
            fail(str(exc))
        report.mkdir(parents=True, exist_ok=True)
        write_text(report / "report.json", json.dumps(result, indent=2))
        write_text(report / "report.md", markdown)
        write_text(report / "report.html", page)
        from .modelcard import record_evaluation

        record_evaluation(model, str(data), result)  # the model card (MODEL/README.md) shows these figures too
    _print_report(result)


def _print_report(result: dict):
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if result["entities"]:
        t = Table(title="Entities (seqeval, strict IOB2)")
        for col in ("label", "precision", "recall", "F1", "support"):
            t.add_column(col, justify="right" if col != "label" else "left")
        for label, r in result["entities"].items():
            t.add_row(label, f"{r['precision']:.2f}", f"{r['recall']:.2f}", f"{r['f1']:.2f}", str(r["support"]))
        console.print(t)
    q = result["quotes"]
    if q:
        t = Table(title="Quotes")
        for col in ("measure", "precision", "recall", "F1", "gold"):
            t.add_column(col, justify="right" if col != "measure" else "left")
        for name in ("content_exact", "content_token", "cue", "speaker", "attribution_exact", "attribution_overlap"):
            r = q[name]
            t.add_row(name, f"{r['precision']:.2f}", f"{r['recall']:.2f}", f"{r['f1']:.2f}", str(r["support"]))
        console.print(t)
        console.print(f"attribution accuracy {q['attribution_accuracy']:.2f}; kind accuracy {q['kind_accuracy']:.2f}")


@app.command("compare")
def compare_command(
    model_a: Path = typer.Argument(..., help="a trained model directory (A)"),
    model_b: Path = typer.Argument(..., help="another trained model directory (B)"),
    data: Path = typer.Option(..., "--data", "-d", help="gold documents both models are scored on"),
    data_format: str = typer.Option("jsonl", help="jsonl, conll, brat, label-studio, markup"),
    report: Optional[Path] = typer.Option(None, help="write compare.json and compare.html (one offline page) here"),
    top: int = typer.Option(5, min=1, help="how many of the most-disagreeing documents to list and show"),
    resamples: int = typer.Option(1000, min=100, help="bootstrap resamples of the documents"),
    batch_size: int = typer.Option(16, min=1),
    device: str = typer.Option("auto"),
):
    """Score two models on the same gold data: every figure for A and B, B − A with a 95 % interval
    (paired bootstrap over documents), and the documents where the two disagree most."""
    from .compare import CompareError, compare_models, print_comparison, write_report
    from .report import ReportError

    try:
        gold = _load_gold(data, data_format)
    except OSError as exc:
        fail(f"{data}: {exc.strerror or exc}")
    except ValueError as exc:  # FormatError is a ValueError naming file, line and field
        fail(str(exc))
    tagger_a, tagger_b = _load_tagger(model_a, device, None), _load_tagger(model_b, device, None)
    try:
        result = compare_models(tagger_a, tagger_b, model_a, model_b, gold, data, batch_size, resamples)
    except CompareError as exc:
        fail(str(exc))
    try:
        if report:
            write_report(result, report, f"newstag comparison: {model_a.name} against {model_b.name} on {data.name}", top)
    except ReportError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{report}: cannot write the comparison there: {exc.strerror or exc}")
    print_comparison(result, top)


@app.command(epilog="Exit status: 0 every record tagged; 2 a usage or set-up error (nothing tagged); "
                    "3 some records rejected (each reported, the rest written).")
def predict(
    inputs: List[str] = typer.Argument(None, help="text files (one article each), JSONL files (.jsonl, .ndjson, "
                                                  ".json, also .gz), or - for stdin"),
    model: Path = typer.Option(..., "--model", "-m"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="file to write (default stdout); written as "
                                          "OUTPUT.partial and renamed when the run completes"),
    format: str = typer.Option("jsonl", "--format", "-f", help="jsonl; pretty (who said what, as text); html (one "
                               "page); label-studio (tasks with pre-annotations); spacy (a DocBin; needs --output); "
                               "parquet (--engine ray: each shard's quotes and entities tables)"),
    input_format: str = typer.Option("auto", help="auto (JSONL by extension; stdin by its first line), text or jsonl"),
    batch_size: int = typer.Option(8, min=1, help="articles per batch"),
    device: str = typer.Option("auto"),
    linker: Optional[str] = typer.Option(None, help="rule or learned (default: the model's own)"),
    resume: bool = typer.Option(False, help="continue an interrupted run from OUTPUT.partial"),
    errors: Optional[Path] = typer.Option(None, help="write every rejected record with its reason here (JSONL)"),
    max_chars: int = typer.Option(MAX_CHARS, min=1, help="reject a record longer than this"),
    shard: Optional[str] = typer.Option(None, help="K/N: tag only the records at positions K, K+N, K+2N ... of all "
                                                   "inputs (one job of an array of N; 0 <= K < N)"),
    threads: Optional[int] = typer.Option(None, min=1, help="CPU threads for the model (default: torch's, the cores "
                                                            "it sees); give each of several runs on one machine its share"),
    backend: str = typer.Option("torch", help=BACKEND_HELP),
    engine: str = typer.Option("local", help="local (this process), or ray: input shards (JSONL, JSONL.gz, Parquet) "
                               "over a Ray Data actor pool, one output per shard into the folder --output (--format "
                               "jsonl or parquet); needs newstag's ray extra"),
    workers: Optional[int] = typer.Option(None, min=1, help="--engine ray: model copies (Ray actors) at work "
                                          "(default 1); --threads is then each one's CPU threads"),
):
    """Tag articles; write the interchange JSONL, who said what for a person to read, an HTML
    page, Label Studio tasks or a spaCy DocBin."""
    from .predicting import PredictRun
    from .reading import InputError, parse_shard
    from .writing import OutputError

    if engine not in ("local", "ray"):
        fail(f"--engine {engine!r}: local or ray")
    if engine == "ray":  # rayengine.py; Ray itself is imported only once the run starts
        from .rayengine import EngineError, Settings, predict_on_ray

        settings = Settings(model=model, output=output, format=format, input_format=input_format, shard=shard,
                            batch_size=batch_size, device=device, linker=linker, backend=backend, resume=resume,
                            errors=errors, max_chars=max_chars, threads=threads, workers=workers or 1)
        try:
            raise typer.Exit(predict_on_ray(inputs or [], settings, report=lambda m: typer.echo(m, err=True)))
        except EngineError as exc:
            fail(str(exc))
    if workers is not None or format == "parquet":
        fail("--workers is for --engine ray" if workers is not None else "--format parquet (the quotes and entities "
             "tables of each shard) is for --engine ray; `newstag tables` makes them from JSONL")
    if resume and output is None:
        fail("--resume needs --output: only a file output can be continued")
    try:
        shard_of = parse_shard(shard) if shard is not None else (0, 1)
    except ValueError as exc:
        fail(str(exc))
    if threads:
        import torch

        torch.set_num_threads(threads)
    tagger = _load_tagger(model, device, linker, backend, threads)  # first: a model that will not load leaves no OUTPUT.partial behind
    try:
        run = PredictRun(inputs or [], output, input_format, errors, resume, max_chars, shard_of, format=format)
    except (InputError, OutputError) as exc:
        fail(str(exc))
    run.tagger = tagger
    raise typer.Exit(run.tag_all(batch_size, report=lambda m: typer.echo(m, err=True)))


@app.command(epilog="Exit status: 0 every record written; 2 a usage or set-up error (nothing written); "
                    "3 some records rejected (each reported, the rest written).")
def tables(
    inputs: List[str] = typer.Argument(..., help="predicted (or gold) documents: JSONL files (also .gz), "
                                                 "or - for stdin"),
    out: Path = typer.Option(..., "--out", help="folder to write quotes.parquet and entities.parquet into"),
    model: Optional[Path] = typer.Option(None, "--model", "-m", help="the model that made the predictions: "
                                         "its weights' SHA-256 is stored in every row"),
):
    """Write documents as two Parquet tables, quotes and entities, for DuckDB, pandas or Spark."""
    from .archive import ArchiveError, tables_from_inputs
    from .modeldir import ModelDirError
    from .reading import InputError

    try:
        rejected = tables_from_inputs(inputs, out, model, report=lambda m: typer.echo(m, err=True))
    except (ArchiveError, InputError, ModelDirError) as exc:
        fail(str(exc))
    raise typer.Exit(3 if rejected else 0)


@app.command()
def quotes(
    table: Path = typer.Argument(..., help="a folder written by `newstag tables`, or its quotes.parquet"),
    top: int = typer.Option(10, min=1, help="how many speakers to list"),
    speaker: Optional[str] = typer.Option(None, help="print this speaker's quotes (a name or part of one)"),
):
    """The most quoted speakers of a quotes table (quotes, articles); with --speaker, their quotes."""
    from .archive import ArchiveError, read_quotes, speaker_report, top_speakers_report

    try:
        quotes_table = read_quotes(table)
    except ArchiveError as exc:
        fail(str(exc))
    if speaker is None:
        typer.echo(top_speakers_report(quotes_table, top))
        return
    found = speaker_report(quotes_table, speaker)
    typer.echo(found if found is not None else f"no speaker named {speaker!r} in {table}")


@app.command()
def calibrate(
    model: Path = typer.Option(..., "--model", "-m", help="a trained model directory"),
    data: List[Path] = typer.Option(..., "--data", "-d", help="gold documents to fit on: dev, never test (JSONL)"),
    device: str = typer.Option("auto"),
    backend: str = typer.Option("torch", help="the backend whose scores to calibrate: " + BACKEND_HELP),
):
    """Fit the score maps on gold data and store them in the model's manifest (per backend).

    Training does this on its dev sets; run it again after fit-linker, or to calibrate on
    your own dev data. Prints each score's expected calibration error before and after.
    """
    from .calibration import calibrate_model
    from .document import read_jsonl
    from .modeldir import ModelDirError

    try:
        gold_sets = {str(f): read_jsonl(f) for f in data}
    except (OSError, ValueError) as exc:  # FormatError names file, line and field
        fail(str(exc))
    if not any(gold_sets.values()):
        fail("no documents to calibrate on")
    try:
        figures = calibrate_model(model, gold_sets, device=device, backend=backend)
    except (ModelDirError, RuntimeError, ValueError) as exc:
        fail(str(exc))
    for kind, raw in figures["raw"].items():
        after = figures["calibrated"][kind]
        typer.echo(f"{kind}: {raw['examples']} scored, ECE {raw['ece']:.3f} -> {after['ece']:.3f}, "
                   f"AUROC {raw['auroc']}")


@app.command()
def export(
    model: Path = typer.Option(..., "--model", "-m", help="a trained model directory"),
):
    """Write the model's int8 ONNX graph into its directory, for `predict --backend onnx-int8`
    (onnx_backend.py); the fp32 graph it is quantised from is written beside it."""
    from .modeldir import ModelDirError
    from .onnx_backend import BackendError, export as export_graphs

    try:
        export_graphs(model, log=lambda m: typer.echo(m, err=True))
    except (ModelDirError, BackendError, OSError) as exc:
        fail(str(exc))
    except KeyboardInterrupt:  # each graph is written whole or not at all; a half export is refused on load
        fail(f"interrupted: the export is incomplete; run `newstag export --model {model}` again", 130)


@app.command("fit-linker")
def fit_linker(
    model: Path = typer.Option(..., "--model", "-m", help="a trained model directory"),
    data: List[Path] = typer.Option(..., "--data", "-d", help="gold documents with quotes (JSONL)"),
    spans: str = typer.Option("gold", help="fit on the gold spans, or on the model's own predicted spans of the "
                                           "documents (best on documents the tagger was not trained on)"),
    device: str = typer.Option("auto", help="auto, cpu or cuda (for --spans predicted)"),
    seed: int = typer.Option(13),
):
    """Learn the quote → speaker linker from gold links and store it in a model directory.

    The tagger is left as it is; the model then links with the learned scorer by default.
    """
    from .document import read_jsonl
    from .linking.learned import LearnedLinker

    if spans not in ("gold", "predicted"):
        fail(f"--spans {spans!r}: gold or predicted")
    tagger = _load_tagger(model, device, "rule")
    try:
        docs = [d for f in data for d in read_jsonl(f) if "quotes" in d.layers]
    except (OSError, ValueError) as exc:  # FormatError names file, line and field
        fail(str(exc))
    predicted = tagger.spans(docs) if spans == "predicted" else None
    linker = LearnedLinker()
    stats = linker.fit(docs, predicted=predicted, seed=seed)
    if not stats["speaker_examples"] and predicted is not None:
        fail("the model found none of the gold quotes in the data: nothing to learn from its spans (try --spans gold)")
    if not stats["speaker_examples"]:
        fail("no quotes in the data: nothing to learn the linker from")
    # The model now links with the learned scorer by default: its config says so.
    spec = tagger.spec
    tagger.model.spec = spec.model_copy(update={"model": spec.model.model_copy(update={"linker": "learned"})})
    tagger.model.save_pretrained(model, tagger.tokenizer, linker=linker)
    typer.echo(json.dumps({"model": str(model), **stats}))
    typer.echo(f"scores are raw until the model is calibrated again: newstag calibrate --model {model} --data DEV.jsonl",
               err=True)


@app.command("label-studio-config")
def label_studio_config(
    path: bool = typer.Option(False, "--path", help="print where the packaged file is instead of its XML"),
):
    """Print the Label Studio labelling config that matches `newstag predict --format label-studio`.

    Paste it into the project's Labeling Interface (Settings), then import the tasks file as is."""
    from .formats.label_studio import CONFIG_PATH, label_studio_config as config_xml

    typer.echo(str(CONFIG_PATH) if path else config_xml(), nl=path)


@data_app.command("build")
def data_build(
    src: Path = typer.Option(Path("data/newswire/src"), help="markup source folder"),
    out: Path = typer.Option(Path("data/newswire"), help="where train/dev/test.jsonl go"),
):
    """Compile the markup sources of a corpus into train/dev/test JSONL."""
    from .corpus.build import build_corpus
    from .corpus.markup import MarkupError

    try:
        splits = build_corpus(src, out)
    except MarkupError as exc:
        fail(str(exc))
    typer.echo(json.dumps({k: len(v) for k, v in splits.items()}))


@data_app.command("check")
def data_check(
    files: List[Path] = typer.Argument(..., help="JSONL files (the splits of one corpus, to catch duplicates across them)"),
    labels: str = typer.Option(",".join(ENTITY_LABELS), help="known entity labels"),
    stats: bool = typer.Option(False, help="also print corpus statistics (JSON)"),
    card: bool = typer.Option(False, help="also print the statistics as the data card's Markdown table"),
):
    """Validate annotated data: offsets, span text, crossings, labels, links, kinds, duplicates."""
    from .corpus.check import check_files, corpus_stats, stats_markdown

    problems, docs_by_file = check_files([str(f) for f in files], labels.split(","))
    for p in problems:
        typer.echo(p)
    if stats:
        typer.echo(json.dumps(corpus_stats(docs_by_file), indent=2))
    if card:
        typer.echo(stats_markdown(corpus_stats(docs_by_file)))
    n = sum(len(d) for d in docs_by_file.values())
    typer.echo(f"{n} documents, {len(problems)} problems", err=True)
    raise typer.Exit(1 if problems else 0)


def main():
    app()


if __name__ == "__main__":
    main()
