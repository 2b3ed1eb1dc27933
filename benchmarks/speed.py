"""Inference speed: newstag's Tagger vs the Hugging Face token-classification pipeline.

    python benchmarks/speed.py --model models/newswire --data data/newswire/dev.jsonl

Both run the same encoder (the one inside the newstag model) over the same whole
articles, side by side in one process: the pipeline with a token-classification head
of the same size (its predictions are not scored: this is a speed measurement only),
``aggregation_strategy="simple"`` and a stride for articles longer than 512 tokens.
newstag's figure includes both heads, Viterbi decoding and quote linking.

With ``--context-lstm-cost`` (a model trained with ``model.context_lstm``) it times
instead what the BiLSTM costs: the forward pass (``inference.word_log_probs``: windows,
encoder, LSTM, heads) with the LSTM and with it taken out, alternating, best of
``--repeats``. Only the forward pass: the copy without the LSTM gets freshly
initialised heads, so its predictions are meaningless and would change what decoding
and linking have to do.
"""
from __future__ import annotations

import argparse
import copy
import json
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from newstag.document import read_jsonl  # noqa: E402
from newstag.model import NewstagModel  # noqa: E402
from newstag.tagger import Tagger  # noqa: E402


def timed(fn, texts, repeats: int) -> float:
    fn(texts[:2])  # warm-up
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        fn(texts)
        best = min(best, time.perf_counter() - started)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", type=Path, default=REPO / "models" / "newswire")
    ap.add_argument("--data", type=Path, default=REPO / "data" / "newswire" / "dev.jsonl")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--context-lstm-cost", action="store_true",
                    help="time the forward pass with and without the model's context LSTM instead")
    args = ap.parse_args()

    import torch
    from transformers import BertForTokenClassification, pipeline

    texts = [d.text for d in read_jsonl(args.data)]
    words = sum(len(t.split()) for t in texts)
    tagger = Tagger.load(args.model, device="cpu")
    if args.context_lstm_cost:
        return report(context_lstm_cost(tagger, texts, args.repeats), args.out)
    config = tagger.model.encoder.config.to_dict()
    config.update(id2label={i: f"L{i}" for i in range(9)}, label2id={f"L{i}": i for i in range(9)})
    hf = BertForTokenClassification(tagger.model.encoder.config.__class__(**config))
    hf.bert.load_state_dict(tagger.model.encoder.state_dict(), strict=False)
    hf.eval()
    results = {"date": time.strftime("%Y-%m-%d"), "machine": platform.processor() or platform.machine(),
               "threads": torch.get_num_threads(), "articles": len(texts), "words": words, "words_per_second": {}}
    for batch in (1, 8, 32):
        seconds = timed(lambda ts: list(tagger.pipe(ts, batch_size=batch)), texts, args.repeats)
        results["words_per_second"][f"newstag batch {batch}"] = round(words / seconds, 1)
    for batch in (1, 8):
        ner = pipeline("token-classification", model=hf, tokenizer=tagger.tokenizer, aggregation_strategy="simple",
                       device=-1, stride=32, batch_size=batch)
        seconds = timed(lambda ts: ner(ts), texts, args.repeats)
        results["words_per_second"][f"HF pipeline batch {batch}"] = round(words / seconds, 1)
    report(results, args.out)


def without_lstm(model):
    """The same encoder and shapes with fresh heads and no context LSTM."""
    spec = model.spec.model_copy(update={"model": model.spec.model.model_copy(update={"context_lstm": 0})})
    return NewstagModel(spec, copy.deepcopy(model.encoder)).eval()


def context_lstm_cost(tagger, texts, repeats: int, batch_size: int = 8) -> dict:
    import torch

    if tagger.model.context is None:
        sys.exit("this model has no context LSTM (model.context_lstm is 0)")
    from newstag.document import Document

    pieces, windows = tagger.preprocess([Document(id=str(i), text=t) for i, t in enumerate(texts)])
    words = sum(len(p.words) for p in pieces)
    models = {f"with BiLSTM {tagger.spec.model.context_lstm}": tagger.model, "without": without_lstm(tagger.model)}
    best = {name: float("inf") for name in models}
    for _ in range(repeats):
        for name, model in models.items():
            forward = Tagger(model, tagger.tokenizer, "cpu", window_batch_size=batch_size).forward
            started = time.perf_counter()
            forward(pieces, windows)
            best[name] = min(best[name], time.perf_counter() - started)
    return {"date": time.strftime("%Y-%m-%d"), "machine": platform.processor() or platform.machine(),
            "threads": torch.get_num_threads(), "articles": len(texts), "words": words, "batch_size": batch_size,
            "forward_words_per_second": {n: round(words / s, 1) for n, s in best.items()}}


def report(results: dict, out: Path | None):
    text = json.dumps(results, indent=2)
    if out:
        out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
