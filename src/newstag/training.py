"""Training: corpora → windows (via ``datasets``) → a fine-tuned NewstagModel.

Read top to bottom: load the corpora a config names, turn every article into labelled
subword windows, draw each epoch's examples by corpus weight, train with AdamW (a
higher learning rate for the fresh heads than for the pretrained encoder), score the
dev corpora after each epoch, and keep the best checkpoint.
"""
from __future__ import annotations

import json
import math
import random
import re
import time
from pathlib import Path

import numpy as np
import torch

from .alignment import plan_windows, to_pieces, window_inputs
from .config import CorpusConfig, RunConfig
from .decoding import ROLE_OF_KIND, transition_log_probs
from .document import LAYERS, Document
from .evaluation import evaluate, headline, selection_score
from .inference import pad_batch, pick_device, predict_documents
from .linking import link
from .model import IGNORE, NewstagModel, load_encoder
from .text import spans_to_bio, split_words


def load_corpus_docs(corpus: CorpusConfig) -> list[Document]:
    from .formats import load_corpus

    docs = load_corpus(corpus.format, corpus.path, **corpus.options)
    return docs[:corpus.limit] if corpus.limit else docs


def quote_spans(doc: Document) -> list[tuple[int, int, str]]:
    """The quote layer as labelled character spans: contents by kind, cues, speakers."""
    spans = {(q.start, q.end, ROLE_OF_KIND[q.kind]) for q in doc.quotes}
    spans |= {(q.cue.start, q.cue.end, "CUE") for q in doc.quotes if q.cue}
    spans |= {(q.speaker.start, q.speaker.end, "SPEAKER") for q in doc.quotes if q.speaker}
    return sorted(spans)


def encode_document(doc: Document, tokenizer, model: NewstagModel) -> list[dict]:
    """Labelled windows of one article; a layer the article lacks is labelled IGNORE."""
    pieces = to_pieces(tokenizer, doc.text)
    ent_index = {t: i for i, t in enumerate(model.entity_tags)}
    quote_index = {t: i for i, t in enumerate(model.quote_tags)}
    known = set(model.settings["entity_labels"])
    ent_tags = spans_to_bio(pieces.words, [(e.start, e.end, e.label) for e in doc.entities if e.label in known])
    quote_tags = spans_to_bio(pieces.words, quote_spans(doc))
    has_ent, has_quote = "entities" in doc.layers, "quotes" in doc.layers
    rows = []
    s = model.settings
    for win in plan_windows(pieces, s["max_length"], s["stride"]):
        row = window_inputs(pieces, win, tokenizer.cls_token_id, tokenizer.sep_token_id)
        row["entity_labels"] = [ent_index[ent_tags[w]] if w >= 0 and has_ent else IGNORE for w in row["word_index"]]
        row["quote_labels"] = [quote_index[quote_tags[w]] if w >= 0 and has_quote else IGNORE for w in row["word_index"]]
        rows.append(row)
    return rows


def build_windows(docs: list[Document], tokenizer, model):
    """A ``datasets.Dataset`` of labelled windows (tokenised once, reused every epoch)."""
    from datasets import Dataset

    def encode(batch):
        out = {k: [] for k in ("input_ids", "shape_ids", "word_index", "entity_labels", "quote_labels")}
        for raw in batch["json"]:
            for row in encode_document(Document.model_validate_json(raw), tokenizer, model):
                for k in out:
                    out[k].append(row[k])
        return out

    source = Dataset.from_dict({"json": [d.model_dump_json() for d in docs]})
    return source.map(encode, batched=True, batch_size=32, remove_columns=["json"], desc="windows")


def epoch_order(sizes: list[int], weights: list[float], rng: random.Random) -> list[tuple[int, int]]:
    """(corpus, row) pairs for one epoch: each corpus contributes weight × its size rows."""
    order = []
    for c, (n, w) in enumerate(zip(sizes, weights)):
        want = max(1, round(n * w)) if n else 0
        rows = rng.sample(range(n), want) if want <= n else [rng.randrange(n) for _ in range(want)]
        order += [(c, r) for r in rows]
    rng.shuffle(order)
    return order


def set_seed(seed: int):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def build_model(config: RunConfig):
    encoder, tokenizer = load_encoder(config.model.encoder)
    m = config.model
    model = NewstagModel(encoder, m.entity_labels, m.shape_dim, m.dropout, m.max_length, m.stride, m.linker,
                         m.transition_weight, crf=m.crf, context_lstm=m.context_lstm)
    return model, tokenizer


def label_transitions(docs: list[Document], model: NewstagModel) -> dict:
    """Per layer, log P(tag | previous tag) over the training labels (the decoding prior);
    None for a layer no training document annotates."""
    known = set(model.settings["entity_labels"])
    sequences = {"entity": [], "quote": []}
    for doc in docs:
        words = split_words(doc.text)
        if "entities" in doc.layers:
            sequences["entity"].append(spans_to_bio(words, [(e.start, e.end, e.label) for e in doc.entities
                                                            if e.label in known]))
        if "quotes" in doc.layers:
            sequences["quote"].append(spans_to_bio(words, quote_spans(doc)))
    tags = {"entity": model.entity_tags, "quote": model.quote_tags}
    return {layer: transition_log_probs(seqs, tags[layer]).round(4).tolist() if seqs else None
            for layer, seqs in sequences.items()}


def encoder_depth(name: str, n_layers: int) -> int:
    """How far a parameter of the encoder sits from its input: 0 for the embeddings,
    i + 1 for transformer layer i, n_layers + 1 for anything above the layers."""
    if ".embeddings." in f".{name}":
        return 0
    m = re.search(r"\.layer\.(\d+)\.", name)
    return int(m.group(1)) + 1 if m else n_layers + 1


def make_optimizer(model, cfg, total_steps: int):
    """AdamW with one learning rate for the heads and, with ``lr_layer_decay`` < 1,
    rates that shrink layer by layer towards the encoder's input (layer-wise decay:
    the lower layers hold the general knowledge fine-tuning should disturb least)."""
    from transformers import get_linear_schedule_with_warmup

    heads = set(id(p) for p in model.head_parameters())
    encoder = [(n, p) for n, p in model.named_parameters() if id(p) not in heads]
    n_layers = getattr(model.encoder.config, "num_hidden_layers", 0)
    by_depth: dict[int, list] = {}
    for name, p in encoder:
        by_depth.setdefault(encoder_depth(name, n_layers), []).append(p)
    groups = [{"params": ps, "lr": cfg.lr_encoder * cfg.lr_layer_decay ** (n_layers + 1 - depth)}
              for depth, ps in sorted(by_depth.items())]
    optimizer = torch.optim.AdamW(groups + [{"params": model.head_parameters(), "lr": cfg.lr_head}],
                                  weight_decay=cfg.weight_decay)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(cfg.warmup_ratio * total_steps), total_steps)
    return optimizer, scheduler


def autocast_for(device, precision: str):
    if device.type == "cuda" and precision in ("auto", "bf16"):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    if device.type == "cuda" and precision == "fp16":
        return torch.autocast("cuda", dtype=torch.float16)
    return torch.autocast("cpu", enabled=False)


class MetricsLog:
    """One JSON object per line in OUTPUT/metrics.jsonl.

    Opened for each record: saving a checkpoint swaps the output directory atomically,
    so a handle held open would point at the replaced copy.
    """

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path

    def write(self, **record):
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")


def fit_linker(config: RunConfig, docs: list[Document], log, predicted=None):
    """The quote → speaker linker: rules, or a scorer learned from the gold links (on the
    gold spans, or on the tagger's ``predicted`` spans of the same documents)."""
    if config.model.linker == "rule":
        return link
    from .learned_linker import LearnedLinker

    linker = LearnedLinker()
    stats = linker.fit(docs, predicted=predicted, seed=config.training.seed)
    log(f"learned linker fitted on {stats['speaker_spans']} spans: {stats['speaker_examples']} quotes, "
        f"{stats['resolve_examples']} resolutions")
    return linker


def refit_linker_on_predictions(config: RunConfig, output: Path, docs: list[Document], dev_sets, batch_size, device,
                                log):
    """Fit the linker on the best checkpoint's own spans of the train documents, store it
    beside the tagger, and score the dev sets again with it."""
    from .inference import tag_documents
    from .model import NewstagModel

    model, tokenizer, _ = NewstagModel.from_pretrained(output)
    model.to(device)
    docs = [d for d in docs if "quotes" in d.layers]
    predicted = tag_documents(model, tokenizer, docs, batch_size, device)
    linker = fit_linker(config, docs, log, predicted=predicted)
    linker.save(output)
    return evaluate_corpora(model, tokenizer, dev_sets, batch_size, device, linker) if dev_sets else None


def evaluate_corpora(model, tokenizer, dev: dict[str, list[Document]], batch_size, device, linker=link) -> dict:
    reports = {}
    for name, docs in dev.items():
        preds = predict_documents(model, tokenizer, docs, batch_size, device, linker)
        reports[name] = evaluate(docs, preds)
    return reports


class WeightAverage:
    """The running mean of a model's weights over the epochs it is given (kept in fp32 on the CPU).

    Averaging the last few epochs' end points of a run whose learning rate decays to zero
    lands nearer the middle of the flat region those epochs walk around in."""

    def __init__(self):
        self.sums, self.count = None, 0

    def add(self, model: torch.nn.Module):
        state = {k: v.detach().float().cpu() for k, v in model.state_dict().items() if v.is_floating_point()}
        if self.sums is None:
            self.sums = {k: v.clone() for k, v in state.items()}
        else:
            for k, v in state.items():
                self.sums[k] += v
        self.count += 1

    def load_into(self, model: torch.nn.Module):
        current = model.state_dict()
        model.load_state_dict({k: (self.sums[k] / self.count).to(v.dtype) if k in self.sums else v
                               for k, v in current.items()})


def train(config: RunConfig, output: Path, progress=True, log=print) -> dict:
    """Train the run a config describes; the best checkpoint ends up in ``output``."""
    cfg = config.training
    set_seed(cfg.seed)
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    device = pick_device(cfg.device)
    model, tokenizer = build_model(config)
    model.to(device)

    train_sets = [(c, load_corpus_docs(c)) for c in config.train]
    dev_sets = {c.name: load_corpus_docs(c) for c in config.dev}
    for c, docs in train_sets:
        if not docs:
            raise ValueError(f"train corpus {c.name!r} ({c.path}) has no documents")
    windows = [build_windows(docs, tokenizer, model) for _, docs in train_sets]
    train_docs = [d for _, docs in train_sets for d in docs]
    model.settings["layers"] = [layer for layer in LAYERS if any(layer in d.layers for d in train_docs)]
    model.settings["transitions"] = label_transitions(train_docs, model)
    model.start_crf_from_prior()
    linker = fit_linker(config, train_docs, log)
    weights = [c.weight for c, _ in train_sets]
    rng = random.Random(cfg.seed)
    steps_per_epoch = math.ceil(len(epoch_order([len(w) for w in windows], weights, random.Random(0))) / cfg.batch_size)
    optimizer, scheduler = make_optimizer(model, cfg, steps_per_epoch * cfg.epochs)
    metrics = MetricsLog(output / "metrics.jsonl")
    metrics.write(event="start", config=config.model_dump(), device=str(device),
                  train_documents={c.name: len(d) for c, d in train_sets},
                  train_windows={c.name: len(w) for (c, _), w in zip(train_sets, windows)})
    log(f"device {device}; {sum(len(w) for w in windows)} training windows; {steps_per_epoch} steps per epoch")

    averager = WeightAverage()
    best, best_report, step, started = -1.0, None, 0, time.time()
    tokens_seen, train_seconds = 0, 0.0  # throughput counts training steps only, not dev scoring
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        order = epoch_order([len(w) for w in windows], weights, rng)
        bar = _progress(range(0, len(order), cfg.batch_size), progress, f"epoch {epoch}/{cfg.epochs}")
        running, epoch_start = None, time.time()
        for i in bar:
            rows = [windows[c][r] for c, r in order[i:i + cfg.batch_size]]
            batch = pad_batch(rows, tokenizer.pad_token_id or 0, device)
            with autocast_for(device, cfg.precision):
                out = model(batch["input_ids"], batch["attention_mask"], batch["shape_ids"],
                            batch["entity_labels"], batch["quote_labels"], cfg.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            out["loss"].backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
            optimizer.step()
            scheduler.step()
            step += 1
            tokens_seen += int(batch["attention_mask"].sum())
            loss = out["loss"].item()
            running = loss if running is None else 0.9 * running + 0.1 * loss
            if hasattr(bar, "set_postfix"):
                bar.set_postfix(loss=f"{running:.3f}")
            if step % 10 == 0:
                metrics.write(event="step", epoch=epoch, step=step, loss=loss,
                              entity_loss=out["entity_loss"].item(), quote_loss=out["quote_loss"].item(),
                              lr=scheduler.get_last_lr()[0])
        train_seconds += time.time() - epoch_start
        record = {"event": "epoch", "epoch": epoch, "step": step, "loss": running,
                  "seconds": round(time.time() - started, 1),
                  "train_tokens_per_second": round(tokens_seen / train_seconds, 1)}
        if dev_sets and (cfg.eval_every_epoch or epoch == cfg.epochs):
            reports = evaluate_corpora(model, tokenizer, dev_sets, 2 * cfg.batch_size, device, linker)
            score = sum(selection_score(r) for r in reports.values()) / len(reports)
            record |= {"dev": {n: headline(r) for n, r in reports.items()}, "selection_score": round(score, 3)}
        else:
            reports, score = None, float(epoch)  # no dev data: the last epoch is the best we know
        metrics.write(**record)
        log(f"epoch {epoch}: loss {running:.4f}" + (f"; dev {record['dev']}" if "dev" in record else ""))
        if cfg.average_last > 1 and epoch > cfg.epochs - cfg.average_last:
            averager.add(model)
        if cfg.average_last > 1:
            continue  # the averaged weights are saved after the last epoch, not the best single epoch's
        if score > best:
            best, best_report = score, reports
            model.save_pretrained(output, tokenizer, extra={"run_name": config.name, "best_epoch": epoch,
                                                            "dev": record.get("dev")},
                                  linker=None if linker is link else linker)
    last_epoch_dev = record.get("dev")
    if cfg.average_last > 1:
        averager.load_into(model)
        best_report = evaluate_corpora(model, tokenizer, dev_sets, 2 * cfg.batch_size, device, linker) if dev_sets else None
        averaged_dev = {n: headline(r) for n, r in (best_report or {}).items()}
        metrics.write(event="averaged", epochs=averager.count, dev=averaged_dev)
        log(f"mean of the last {averager.count} epochs' weights; dev {averaged_dev}")
        if best_report:
            best = sum(selection_score(r) for r in best_report.values()) / len(best_report)
        model.save_pretrained(output, tokenizer, extra={"run_name": config.name, "averaged_epochs": averager.count,
                                                        "dev": averaged_dev or None},
                              linker=None if linker is link else linker)
    summary = {"best_selection_score": best, "last_epoch_dev": last_epoch_dev,
               "seconds": round(time.time() - started, 1),
               "train_seconds": round(train_seconds, 1),
               "train_tokens_per_second": round(tokens_seen / train_seconds, 1),
               "dev": {n: headline(r) for n, r in (best_report or {}).items()}}
    if config.model.linker == "learned" and config.model.linker_spans == "predicted":
        refit = refit_linker_on_predictions(config, output, train_docs, dev_sets,
                                            2 * cfg.batch_size, device, log)
        if refit:
            best_report = refit
            summary["dev"] = {n: headline(r) for n, r in refit.items()}
            log(f"dev with the refitted linker: {summary['dev']}")
    metrics.write(event="end", **summary)
    if best_report:
        (output / "dev_report.json").write_text(json.dumps(best_report, indent=2), encoding="utf-8")
    return summary


def _progress(iterable, enabled: bool, desc: str):
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, unit="batch", leave=False)
