"""One training step of the default model three ways, side by side in one process:
eager with the configured AdamW (foreach), eager with fused AdamW, and the model under
``torch.compile(dynamic=True)``.

    OMP_NUM_THREADS=1 python benchmarks/train_step.py --articles 40 --steps 6 --rounds 2 --threads 1

Windows of the first ``--articles`` training articles, in steps of 16 grouped by length
(as ``training.length_buckets`` does) and shuffled; every arm runs the same steps, the
arms alternating round by round; tokens/s counts real (non-padding) tokens of forward,
backward and optimizer step. The compiled arm's first steps (compilation) are timed
apart. Not a training run: no dev scoring, no scheduler.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

from emit import emit

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))


def steps_of(articles: int, config):
    from newstag.labels import corpus_statistics
    from newstag.model import ModelSpec, load_encoder
    from newstag.training import build_windows, load_corpus_docs

    encoder, tokenizer = load_encoder(config.model.encoder)
    docs = load_corpus_docs(config.train[0])[:articles]
    spec = ModelSpec.for_training(config.model, encoder, corpus_statistics(docs, config.model.entity_labels))
    windows = build_windows(docs, tokenizer, spec)
    rows = sorted((windows[i] for i in range(len(windows))), key=lambda r: len(r["input_ids"]))
    steps = [rows[i:i + 16] for i in range(0, len(rows) - 15, 16)]
    random.Random(0).shuffle(steps)
    return spec, steps


def make_arm(spec, config, compiled: bool, fused: bool):
    import torch

    from newstag.model import NewstagModel, load_encoder

    torch.manual_seed(0)
    model = NewstagModel(spec, load_encoder(config.model.encoder)[0])
    model.train()
    optimizer = model.configure_optimizer(config.training)
    if fused:
        optimizer = torch.optim.AdamW(optimizer.param_groups, fused=True)
    return (torch.compile(model, dynamic=True) if compiled else model), optimizer


def run(arm, steps) -> float:
    from newstag.alignment import collate
    from newstag.document import LAYERS

    forward, optimizer = arm
    started, tokens = time.time(), 0
    for rows in steps:
        batch = collate(rows, 0, "cpu")
        out = forward(batch["input_ids"], batch["attention_mask"], batch["shape_ids"], {l: batch[l] for l in LAYERS})
        sum(out.losses.values()).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        tokens += sum(len(r["input_ids"]) for r in rows)
    return tokens / (time.time() - started)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(REPO / "configs" / "default.yaml"))
    ap.add_argument("--articles", type=int, default=40)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()

    import torch

    from newstag.config import load_config

    torch.set_num_threads(args.threads)
    config = load_config(args.config)
    spec, steps = steps_of(args.articles, config)
    arms = {"eager, AdamW foreach": make_arm(spec, config, False, False),
            "eager, AdamW fused": make_arm(spec, config, False, True),
            "torch.compile": make_arm(spec, config, True, False)}
    started = time.time()
    run(arms["torch.compile"], steps[:3])
    compile_seconds = time.time() - started
    rounds = {name: [] for name in arms}
    for _ in range(args.rounds):
        for name, arm in arms.items():
            rounds[name].append(round(run(arm, steps[:args.steps]), 1))
    emit({"date": time.strftime("%Y-%m-%d %H:%M"), "threads": args.threads, "articles": args.articles,
          "steps": args.steps, "compile_seconds (first 3 steps)": round(compile_seconds, 1),
          "tokens_per_second by round": rounds}, args.out)


if __name__ == "__main__":
    main()
