"""Inference speed: newstag's Tagger vs the Hugging Face token-classification pipeline.

    python benchmarks/speed.py --model models/newswire --data data/newswire/dev.jsonl

Both run the same encoder (the one inside the newstag model) over the same whole
articles, side by side in one process: the pipeline with a token-classification head
of the same size (its predictions are not scored: this is a speed measurement only),
``aggregation_strategy="simple"`` and a stride for articles longer than 512 tokens.
newstag's figure includes both heads, Viterbi decoding and quote linking.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from newstag.document import read_jsonl  # noqa: E402
from newstag.inference import Tagger  # noqa: E402


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
    args = ap.parse_args()

    import torch
    from transformers import BertForTokenClassification, pipeline

    texts = [d.text for d in read_jsonl(args.data)]
    words = sum(len(t.split()) for t in texts)
    tagger = Tagger.load(args.model, device="cpu")
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
    text = json.dumps(results, indent=2)
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
