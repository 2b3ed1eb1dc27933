"""Training: corpora → windows (via ``datasets``) → a fine-tuned NewstagModel.

Read top to bottom: load the corpora a config names, count what the model learns from
the data before any step (layers, tag-transition prior), build the model, turn every
article into labelled subword windows, draw each epoch's examples by corpus weight,
train with AdamW, score the dev corpora after each epoch and write a checkpoint
(checkpoint.py: weights, optimizer, schedule, random states, the best epoch's model);
at the end (for a learned linker on predicted spans) refit the linker on the tagger's
own spans, fit the score maps on dev (calibration.py), and promote the best model to OUTPUT. ``train(..., resume=True)`` continues
an unfinished run from its checkpoint and ends with the weights an uninterrupted run
would have.

One loop, in one process or several: Hugging Face accelerate places the model, wraps it
for data parallel (DDP) and bf16 autocast, and accumulates gradients (runtime.py builds
the ``Accelerator``; ``newstag train --processes N`` or torchrun starts the processes).
Every process draws the same epoch order; each step is ``training.batch_size`` windows
of it, of which each process trains on its share (``my_parts``), its loss
weighted so that the gradient is the whole step's, as one process would compute it. The
main process scores the dev corpora, writes the checkpoints, refits, calibrates and
logs; the others wait for it at barriers.

Test hook: with the environment variable NEWSTAG_TEST_KILL_AFTER_STEP=N, training kills
its own process with SIGKILL right after optimizer step N (counted over the whole run),
as ``kill -9`` would, in every process of the run; tests/test_resume.py and
tests/test_distributed.py crash runs with it.
"""
from __future__ import annotations

import json
import math
import os
import random
import signal
import time
import uuid
from functools import partial
from pathlib import Path
from typing import Optional

import torch
from accelerate.utils import broadcast_object_list, gather_object, set_seed

from . import checkpoint
from .alignment import collate, plan_windows, to_pieces, window_inputs
from .checkpoint import RunState
from .config import CorpusConfig, RunConfig
from .crf import IGNORE
from .document import LAYERS, Document
from .evaluation import evaluate, headline, selection_score
from .files import write_text
from .labels import corpus_statistics, layer_spans
from .calibration import calibrate_model
from .modelcard import write_model_card
from .progress import on_terminal, progress as show_progress
from .linking import linker_class
from .model import ModelSpec, NewstagModel, load_encoder
from .runtime import LaunchError, accelerator_for, check_batch, threads_per_process
from .tagger import Tagger
from .text import spans_to_bio

KILL_AFTER_STEP = "NEWSTAG_TEST_KILL_AFTER_STEP"


class CorpusError(ValueError):
    """A corpus the config names that cannot be read: a set-up error, named by corpus and path."""


def load_corpus_docs(corpus: CorpusConfig) -> list[Document]:
    from .formats import load_corpus

    try:
        docs = load_corpus(corpus.format, corpus.path, **corpus.options)
    except (OSError, ValueError) as exc:  # FormatError (a ValueError) names file, line and field
        raise CorpusError(f"corpus {corpus.name!r} ({corpus.path}): {exc}") from None
    return docs[:corpus.limit] if corpus.limit else docs


def encode_document(doc: Document, tokenizer, spec: ModelSpec) -> list[dict]:
    """Labelled windows of one article; a layer the article lacks is labelled IGNORE."""
    pieces = to_pieces(tokenizer, doc.text)
    tags = {}
    for layer in LAYERS:
        index = {t: i for i, t in enumerate(spec.tags(layer))}
        bio = spans_to_bio(pieces.words, layer_spans(doc, layer, spec.model.entity_labels))
        tags[layer] = [index[t] for t in bio] if layer in doc.layers else None
    rows = []
    for win in plan_windows(pieces, spec.window_length, spec.model.stride):
        row = window_inputs(pieces, win, tokenizer.cls_token_id, tokenizer.sep_token_id)
        for layer, layer_tags in tags.items():
            row[layer] = [layer_tags[w] if w >= 0 and layer_tags is not None else IGNORE for w in row["word_index"]]
        rows.append(row)
    return rows


def build_windows(docs: list[Document], tokenizer, spec: ModelSpec, show_progress: bool = False):
    """A ``datasets.Dataset`` of labelled windows (tokenised once, reused every epoch)."""
    from datasets import Dataset
    from datasets import disable_progress_bars, enable_progress_bars, is_progress_bar_enabled

    def encode(batch):
        out = {k: [] for k in ("input_ids", "shape_ids", "word_index", *LAYERS)}
        for raw in batch["json"]:
            for row in encode_document(Document.model_validate_json(raw), tokenizer, spec):
                for k in out:
                    out[k].append(row[k])
        return out

    source = Dataset.from_dict({"json": [d.model_dump_json() for d in docs]})
    was_enabled = is_progress_bar_enabled()
    (enable_progress_bars if show_progress else disable_progress_bars)()  # datasets draws its own bar
    try:
        return source.map(encode, batched=True, batch_size=32, remove_columns=["json"], desc="windows")
    finally:
        (enable_progress_bars if was_enabled else disable_progress_bars)()


def epoch_order(sizes: list[int], weights: list[float], rng: random.Random) -> list[tuple[int, int]]:
    """(corpus, row) pairs for one epoch: each corpus contributes weight × its size rows."""
    order = []
    for c, (n, w) in enumerate(zip(sizes, weights)):
        want = max(1, round(n * w)) if n else 0
        rows = rng.sample(range(n), want) if want <= n else [rng.randrange(n) for _ in range(want)]
        order += [(c, r) for r in rows]
    rng.shuffle(order)
    return order


def bucketed(order: list[tuple[int, int]], lengths: list[list[int]], batch_size: int, buckets: int,
             rng: random.Random) -> list[tuple[int, int]]:
    """The epoch's order regrouped so that each step's windows have similar lengths (and
    so pad little): each run of ``buckets`` steps is sorted by window length, cut into
    steps, and all steps are shuffled. Which windows the epoch draws, and so the corpus
    weights, are unchanged; ``buckets`` 0 leaves the order as it is."""
    if not buckets:
        return order
    span = batch_size * buckets
    steps = []
    for i in range(0, len(order), span):
        run = sorted(order[i:i + span], key=lambda cr: lengths[cr[0]][cr[1]])
        steps += [run[j:j + batch_size] for j in range(0, len(run), batch_size)]
    short = [s for s in steps if len(s) < batch_size]  # at most one: stays last, as steps are cut from the order
    steps = [s for s in steps if len(s) == batch_size]
    rng.shuffle(steps)
    return [pair for step in steps + short for pair in step]


def labelled_words(rows: list[dict]) -> dict[str, int]:
    """Per layer, the words the windows label: what each layer's loss is a mean over."""
    return {layer: sum(tag != IGNORE for row in rows for tag in row[layer]) for layer in LAYERS}


def my_parts(rows: list, process: int, processes: int, accumulation: int) -> list[list]:
    """This process's micro-batches of one step: the step's windows dealt in turn to
    processes × accumulation parts, of which this process takes every processes-th. At the
    short last step of an epoch some parts may be empty."""
    total = processes * accumulation
    return [rows[a * processes + process::total] for a in range(accumulation)]


def share_of_step(losses: dict, words: dict[str, int], step_words: dict[str, int]) -> dict:
    """Per layer, a micro-batch's share of the step's loss: its loss (a mean over its
    labelled words) weighted by its share of the step's labelled words. The shares of all
    processes and micro-batches add up to the loss of the whole step taken as one batch."""
    return {layer: loss * (words[layer] / step_words[layer] if step_words[layer] else 0.0)
            for layer, loss in losses.items()}


class MetricsLog:
    """One JSON object per line in OUTPUT/metrics.jsonl, each carrying the id of the run
    that wrote it: a resumed run, or a new run into the same directory, appends to the
    same file.

    Opened for each record: the finished model is swapped into OUTPUT whole, so a handle
    held open would point at the replaced copy.
    """

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.run = uuid.uuid4().hex  # from os.urandom: drawing it leaves the seeded generators alone

    def write(self, **record):
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({**record, "run": self.run}) + "\n")


def evaluate_corpora(tagger: Tagger, dev: dict[str, list[Document]]) -> dict:
    return {name: evaluate(docs, list(tagger.pipe(docs, batch_size=len(docs) or 1))) for name, docs in dev.items()}


def refit_linker_on_predictions(config: RunConfig, model_dir: Path, docs: list[Document], dev_sets, device, log):
    """Fit the linker on the best model's own spans of the train documents, store it in
    its model directory, and score the dev sets again with it."""
    model, tokenizer = NewstagModel.from_pretrained(model_dir)
    docs = [d for d in docs if "quotes" in d.layers]
    predicted = Tagger(model, tokenizer, device).spans(docs)
    linker = fit_linker(config, docs, log, predicted=predicted)
    # The directory is written again whole, manifest included: a kill leaves the old
    # linker or the new one, never a linker its manifest does not list.
    model.save_pretrained(model_dir, tokenizer, linker=linker)
    return evaluate_corpora(Tagger(model, tokenizer, device, linker), dev_sets) if dev_sets else None


def fit_linker(config: RunConfig, docs: list[Document], log, predicted=None):
    """The configured linker, fitted on the gold links (of gold spans, or of the tagger's ``predicted`` ones)."""
    linker = linker_class(config.model.linker)()
    stats = linker.fit(docs, predicted=predicted, seed=config.training.seed)
    if stats:
        log(f"{linker.name} linker fitted on {stats['speaker_spans']} spans: {stats['speaker_examples']} quotes, "
            f"{stats['resolve_examples']} resolutions")
    return linker


def train(config: RunConfig, output: Path, progress: Optional[bool] = None, log=print, resume: bool = False,
          processes: Optional[int] = None) -> dict:
    """Train the run a config describes; the best epoch's model ends up in ``output``.

    ``resume``: continue the unfinished run in ``output`` from its last checkpoint.
    ``processes``: how many processes the caller launched (LaunchError when the launcher
    started another number); None: as many as it started, or just this one. Every
    process of a run calls train(); all return the main process's summary.
    """
    output, cfg = Path(output), config.training
    # A CRF whose layer no window of a micro-batch annotates leaves its transitions out of
    # that step's graph, which DDP must be told to expect.
    accelerator = accelerator_for(cfg, find_unused_parameters=config.model.crf)
    world, main, device = accelerator.num_processes, accelerator.is_main_process, accelerator.device
    if processes is not None and world != processes:
        raise LaunchError(f"asked for {processes} processes, but the launcher started {world} (`accelerate launch "
                          "--cpu` starts one without mpirun); use `newstag train --processes N`, `torchrun "
                          "--nproc-per-node N -m newstag.cli train ...` or `accelerate launch --multi_gpu "
                          "--num_processes N -m newstag.cli train ...` (on CPU too)")
    check_batch(world, cfg.batch_size, cfg.grad_accumulation)
    log = log if main else (lambda message: None)  # the main process speaks for the run
    if main:
        checkpoint.recover(output)
    accelerator.wait_for_everyone()
    resumed = checkpoint.prepare(output, config, resume, world)  # refuses before any work is done, in every process
    accelerator.wait_for_everyone()  # all have read OUTPUT before the main process may clear it for a fresh run
    set_seed(cfg.seed)
    threads = threads_per_process(cfg.num_threads, world)
    if threads:
        torch.set_num_threads(threads)
    encoder, tokenizer = load_encoder(config.model.encoder)
    train_sets = [(c, load_corpus_docs(c)) for c in config.train]
    dev_sets = {c.name: load_corpus_docs(c) for c in config.dev}
    for c, docs in train_sets:
        if not docs:
            raise CorpusError(f"train corpus {c.name!r} ({c.path}) has no documents")
    train_docs = [d for _, docs in train_sets for d in docs]
    spec = ModelSpec.for_training(config.model, encoder, corpus_statistics(train_docs, config.model.entity_labels))
    model = NewstagModel(spec, encoder).to(device)  # the same initialisation in every process
    if world > 1:
        set_seed(cfg.seed, device_specific=True)  # from here on each process draws its own dropout
    progress = main and (on_terminal() if progress is None else progress)
    windows = [build_windows(docs, tokenizer, spec, show_progress=progress) for _, docs in train_sets]
    lengths = [[len(ids) for ids in w["input_ids"]] for w in windows] if cfg.length_buckets else []
    linker = fit_linker(config, train_docs, log)  # seeded: a resumed run fits the same linker again
    weights = [c.weight for c, _ in train_sets]
    rng = random.Random(cfg.seed)
    steps_per_epoch = math.ceil(len(epoch_order([len(w) for w in windows], weights, random.Random(0))) / cfg.batch_size)
    optimizer = model.configure_optimizer(cfg)
    from transformers import get_linear_schedule_with_warmup

    total_steps = steps_per_epoch * cfg.epochs
    scheduler = get_linear_schedule_with_warmup(optimizer, int(cfg.warmup_ratio * total_steps), total_steps)
    if resumed:
        # After all that draws from the generators above (the model's random initialisation).
        resumed.restore(model, optimizer, scheduler, rng, accelerator.process_index)
        log(f"resuming after epoch {resumed.state.epoch} of {cfg.epochs}")
    elif main:
        checkpoint.start(output)
        if resume:
            log(f"{output}: no checkpoint to resume from (killed in its first epoch); starting at epoch 1")
    # Wrapped for data parallel (DDP) and autocast as the accelerator says; ``network`` is
    # the NewstagModel inside, which the main process scores and saves.
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    network = accelerator.unwrap_model(model)
    state = resumed.state if resumed else RunState()
    metrics = MetricsLog(output / "metrics.jsonl")
    if main:
        metrics.write(event="start", config=config.model_dump(), device=str(device), world_size=world,
                      train_documents={c.name: len(d) for c, d in train_sets},
                      train_windows={c.name: len(w) for (c, _), w in zip(train_sets, windows)},
                      **({"resumed_from_epoch": state.epoch} if resumed else {}))
    log(f"device {device}" + (f", {world} processes" if world > 1 else "")
        + f"; {sum(len(w) for w in windows)} training windows; {steps_per_epoch} steps per epoch")

    kill_after_step = int(os.environ.get(KILL_AFTER_STEP) or 0)
    parts = world * cfg.grad_accumulation  # micro-batches per step, over all processes
    started = time.time() - state.seconds  # the wall clock runs on across a resumption
    for epoch in range(state.epoch + 1, cfg.epochs + 1):
        model.train()
        order = epoch_order([len(w) for w in windows], weights, rng)  # the same order in every process
        order = bucketed(order, lengths, cfg.batch_size, cfg.length_buckets, rng)
        bar = show_progress(range(0, len(order), cfg.batch_size), desc=f"epoch {epoch}/{cfg.epochs}", unit="batch",
                            enabled=progress)
        running, epoch_start = None, time.time()
        for i in bar:
            rows = [windows[c][r] for c, r in order[i:i + cfg.batch_size]]  # the whole step, as one process sees it
            step_words = labelled_words(rows)
            step_losses = torch.zeros(len(LAYERS), device=device)
            for part in my_parts(rows, accelerator.process_index, world, cfg.grad_accumulation):
                with accelerator.accumulate(model):  # sums the gradients, exchanging them at the step's last part
                    # An empty part (the short last step of an epoch) runs a window at weight 0:
                    # every process takes part in every exchange of gradients.
                    batch = collate(part or rows[:1], tokenizer.pad_token_id or 0, device)
                    out = model(batch["input_ids"], batch["attention_mask"], batch["shape_ids"],
                                {layer: batch[layer] for layer in LAYERS})
                    share = share_of_step(out.losses, labelled_words(part), step_words)
                    # accelerate divides by the accumulation steps and DDP averages over the
                    # processes: the gradient is that of the whole step's loss, as in one process.
                    accelerator.backward(sum(share.values()) * parts)
                    if accelerator.sync_gradients:  # the norm of the whole step's gradient, before clipping
                        grad_norm = accelerator.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
                    optimizer.step()  # these three act at the step's last part only
                    scheduler.step()
                    optimizer.zero_grad(set_to_none=True)
                    step_losses += torch.stack([share[layer] for layer in LAYERS]).detach()
            step_losses = accelerator.reduce(step_losses, reduction="sum")  # the step's loss per layer
            state.step += 1
            if state.step == kill_after_step:
                os.kill(os.getpid(), signal.SIGKILL)  # the test hook: a hard crash, as kill -9 (in every process)
            state.tokens_seen += sum(len(row["input_ids"]) for row in rows)
            loss = step_losses.sum().item()
            running = loss if running is None else 0.9 * running + 0.1 * loss
            if hasattr(bar, "set_postfix"):
                bar.set_postfix(loss=f"{running:.3f}")
            if main and state.step % 10 == 0:
                metrics.write(event="step", epoch=epoch, step=state.step, loss=loss, lr=scheduler.get_last_lr()[0],
                              grad_norm=grad_norm.item(),
                              **{f"{layer}_loss": value for layer, value in zip(LAYERS, step_losses.tolist())})
        state.train_seconds += time.time() - epoch_start
        write_best = None
        if main:  # scores the dev corpora and writes the checkpoint; the others wait
            record = {"event": "epoch", "epoch": epoch, "step": state.step, "loss": running,
                      "seconds": round(time.time() - started, 1),
                      "train_tokens_per_second": round(state.tokens_seen / state.train_seconds, 1)}
            if dev_sets and (cfg.eval_every_epoch or epoch == cfg.epochs):
                reports = evaluate_corpora(Tagger(network, tokenizer, device, linker), dev_sets)
                score = sum(selection_score(r) for r in reports.values()) / len(reports)
                record |= {"dev": {n: headline(r) for n, r in reports.items()}, "selection_score": round(score, 3)}
            else:
                reports, score = None, float(epoch)  # no dev data: the last epoch is the best we know
            metrics.write(**record)
            log(f"epoch {epoch}: loss {running:.4f}" + (f"; dev {record['dev']}" if "dev" in record else ""))
            if score > state.best_score:
                state.best_score, state.best_epoch, state.best_report = score, epoch, reports
                provenance = {"run_name": config.name, "best_epoch": epoch, "dev": record.get("dev")}
                write_best = partial(network.save_pretrained, tokenizer=tokenizer, linker=linker, training=provenance)
            state.last_record = record
        state.epoch, state.seconds = epoch, time.time() - started
        generators = gather_object([checkpoint.generator_states(rng)])  # every process's, after the dev scoring
        if main:
            checkpoint.save(output, state, config, network, optimizer, scheduler, generators, write_best)
        accelerator.wait_for_everyone()

    summary = None
    if main:  # refits, calibrates and promotes the model; the others wait for its summary
        best_report = state.best_report
        summary = {"best_selection_score": state.best_score, "last_epoch_dev": state.last_record.get("dev"),
                   "seconds": round(time.time() - started, 1),
                   "train_seconds": round(state.train_seconds, 1),
                   "train_tokens_per_second": round(state.tokens_seen / state.train_seconds, 1),
                   "dev": {n: headline(r) for n, r in (best_report or {}).items()}}
        # Refitted in the checkpoint's best model, before it is promoted: the manifest that
        # makes OUTPUT a model then covers the refitted linker, and --resume redoes a cut refit.
        if config.model.linker == "learned" and config.model.linker_spans == "predicted":
            refit = refit_linker_on_predictions(config, checkpoint.best_dir(output), train_docs, dev_sets, device, log)
            if refit:
                best_report = refit
                summary["dev"] = {n: headline(r) for n, r in refit.items()}
                log(f"dev with the refitted linker: {summary['dev']}")
        if dev_sets:
            # Scores mean what calibration.py says once mapped by what dev shows; the maps go in
            # the manifest of the model about to be promoted (a cut run redoes this on --resume).
            figures = calibrate_model(checkpoint.best_dir(output), dev_sets, device=str(device))
            summary["calibration_dev"] = {kind: {"ece_raw": figures["raw"][kind]["ece"],
                                                 "ece_calibrated": figures["calibrated"][kind]["ece"]}
                                          for kind in figures["raw"]}
            log(f"scores calibrated on dev: {summary['calibration_dev']}")
        metrics.write(event="end", **summary)
        if best_report:
            write_text(output / "dev_report.json", json.dumps(best_report, indent=2))
        checkpoint.finish(output)  # written last: OUTPUT becomes a model only now
        write_model_card(output)
    return broadcast_object_list([summary])[0]
