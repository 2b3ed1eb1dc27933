"""The data card's v2 statistics, per split: article lengths, quote-less articles, cue
distribution, pronoun speakers with a competing candidate (another person's name for a
person, another organisation's for an organisation) between them and their referent, quote lengths, and leakage between splits (stories, invented people).

    python data/tools/card_stats.py            # Markdown, from data/newswire/{train,dev,test}.jsonl
"""
from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "src"))

from newstag.corpus.build import read_stories  # noqa: E402
from newstag.document import read_jsonl  # noqa: E402
from newstag.lexicon import NAME_LABELS, PRONOUNS  # noqa: E402
from newstag.matching import surname  # noqa: E402

DATA = REPO / "data" / "newswire"
SPLITS = ("train", "dev", "test")


def words(text: str) -> int:
    return len(text.split())


def split_stats(docs) -> dict:
    lengths = sorted(words(d.text) for d in docs)
    quotes = [q for d in docs for q in d.quotes]
    cues = Counter(q.cue.text.lower() for q in quotes if q.cue)
    n_cues = sum(cues.values())
    pronoun, competing = 0, 0
    for d in docs:
        names = [e for e in d.entities if e.label in NAME_LABELS]
        for q in d.quotes:
            s, ref = q.speaker, q.speaker_entity
            if s is None or ref is None or s.text.lower().split()[-1] not in PRONOUNS:
                continue
            pronoun += 1
            lo, hi = sorted((ref.end, s.start))
            ref_label = next((n.label for n in names if (n.start, n.end) == (ref.start, ref.end)), None)
            competing += any(lo <= n.start and n.end <= hi and n.label == ref_label
                             and surname(d.text, n) != surname(d.text, ref) for n in names)
    return {
        "articles": len(docs),
        "words: min / median / max": f"{lengths[0]} / {lengths[len(lengths) // 2]} / {lengths[-1]}" if lengths else "-",
        "articles under 150 words": sum(n < 150 for n in lengths),
        "articles over 1,000 words": sum(n > 1000 for n in lengths),
        "articles without quotes": f"{sum(not d.quotes for d in docs)} ({100 * sum(not d.quotes for d in docs) / max(len(docs), 1):.0f} %)",
        "quotes": len(quotes),
        "quotes without a speaker": f"{sum(q.speaker is None for q in quotes)} ({100 * sum(q.speaker is None for q in quotes) / max(len(quotes), 1):.1f} %)",
        "quotes over 40 words": f"{sum(words(q.text) > 40 for q in quotes)} ({100 * sum(words(q.text) > 40 for q in quotes) / max(len(quotes), 1):.1f} %)",
        "'said' share of cues": f"{100 * cues['said'] / max(n_cues, 1):.1f} %",
        "'according to' share of cues": f"{100 * cues['according to'] / max(n_cues, 1):.1f} %",
        "top five cues' share": f"{100 * sum(n for _, n in cues.most_common(5)) / max(n_cues, 1):.1f} %",
        "pronoun speakers with another name of the referent's type between": f"{competing} of {pronoun} ({100 * competing / max(pronoun, 1):.0f} %)",
    }


def leakage(docs_by_split) -> dict:
    story = read_stories(DATA / "stories.tsv")
    stories = {s: {story.get(d.id, d.id) for d in docs} for s, docs in docs_by_split.items()}
    people = {s: {e.text for d in docs for e in d.entities if e.label == "PER" and " " in e.text}
              for s, docs in docs_by_split.items()}
    pairs = [("train", "dev"), ("train", "test"), ("dev", "test")]
    return {f"stories shared {a}/{b}": len(stories[a] & stories[b]) for a, b in pairs} | \
           {f"invented full names shared {a}/{b}": len(people[a] & people[b]) for a, b in pairs} | \
           {f"stories in {s}": len(v) for s, v in stories.items()}


def main():
    docs = {s: read_jsonl(DATA / f"{s}.jsonl") for s in SPLITS}
    stats = {s: split_stats(d) for s, d in docs.items()}
    print("| | " + " | ".join(SPLITS) + " |")
    print("|---|" + "---:|" * len(SPLITS))
    for key in stats["train"]:
        print(f"| {key} | " + " | ".join(str(stats[s][key]) for s in SPLITS) + " |")
    print()
    for key, value in leakage(docs).items():
        print(f"- {key}: {value}")


if __name__ == "__main__":
    main()
