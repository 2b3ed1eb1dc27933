"""Linking time: one long single-paragraph article against the same articles one by one.

    python benchmarks/linking.py                       # 300 newswire articles, both linkers
    python benchmarks/linking.py --articles 600 --out benchmarks/results/linking.json

Linking should cost the same per quote however the text is cut into articles. The gold
spans of the newswire train and dev articles (links removed, ``Predictions.of_gold``) are
linked twice: article by article, and as one article made by joining them all into one
paragraph (newlines become spaces, offsets shifted), the worst case for the candidate
windows, which are counted in paragraphs. The figure is the ratio of the two times, best
of ``--repeats`` each; 1.2 or less is the target. The learned linker is fitted on the
same articles first (not timed).
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

from newstag.document import Document, Entity, Quote, Span, read_jsonl  # noqa: E402
from newstag.linking.learned import LearnedLinker  # noqa: E402
from newstag.linking.rules import RuleLinker  # noqa: E402
from newstag.linking.spans import Predictions  # noqa: E402

DATA = [REPO / "data" / "newswire" / "train.jsonl", REPO / "data" / "newswire" / "dev.jsonl"]


def shifted(span, by: int):
    return None if span is None else Span(start=span.start + by, end=span.end + by)


def joined(docs: list[Document]) -> Document:
    """The documents as one single-paragraph article, every span moved with its text."""
    text, entities, quotes = "", [], []
    for d in docs:
        by = len(text)
        entities += [Entity(start=e.start + by, end=e.end + by, label=e.label) for e in d.entities]
        quotes += [Quote(start=q.start + by, end=q.end + by, kind=q.kind, cue=shifted(q.cue, by),
                         speaker=shifted(q.speaker, by), speaker_entity=shifted(q.speaker_entity, by))
                   for q in d.quotes]
        text += d.text.replace("\n", " ") + " "
    return Document(id="joined", text=text, entities=entities, quotes=quotes)


def link_all(linker, docs: list[Document]) -> float:
    started = time.perf_counter()
    for d in docs:
        linker(d.text, Predictions.of_gold(d))
    return time.perf_counter() - started


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--articles", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)

    pool = [d for path in DATA for d in read_jsonl(path)]
    docs = (pool * (args.articles // len(pool) + 1))[:args.articles]
    one = joined(docs)
    learned = LearnedLinker()
    learned.fit(pool)
    result = {"articles": len(docs), "characters": len(one.text), "quotes": len(one.quotes),
              "machine": platform.processor() or platform.machine(), "python": platform.python_version(),
              "date": time.strftime("%Y-%m-%d")}
    for linker in (RuleLinker(), learned):
        times = [(link_all(linker, [one]), link_all(linker, docs)) for _ in range(args.repeats)]
        t_one, t_many = min(t[0] for t in times), min(t[1] for t in times)
        result[linker.name] = {"one_article_s": round(t_one, 3), "many_articles_s": round(t_many, 3),
                               "ratio": round(t_one / t_many, 2)}
        print(f"{linker.name}: one article {t_one:.2f} s, {len(docs)} articles {t_many:.2f} s, "
              f"ratio {t_one / t_many:.2f}", flush=True)
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
