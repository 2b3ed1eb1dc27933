"""Building a corpus's splits from its markup sources.

``data/newswire/src/*.txt`` is split into train and dev by story cluster
(``stories.tsv``, made by ``data/tools/stories.py``), so no story is told in two
splits; ``data/newswire/test-src/*.txt``, written from a separate brief and frozen, is
the test split. Deterministic: the split depends only on ids, topics and stories.
"""
from __future__ import annotations

import hashlib
from collections import defaultdict
from pathlib import Path

from ..document import Document, write_jsonl
from .markup import MarkupError, compile_file


def split_sizes(n: int) -> tuple[int, int]:
    """(test, dev) articles of a topic with n articles: a tenth each, at least one each from 3."""
    share = max(1, round(n / 10)) if n >= 3 else 0
    return share, share


def read_stories(path: str | Path) -> dict[str, str]:
    """Article id -> story id from a ``id<TAB>story`` file (``data/tools/stories.py``); {} if none."""
    path = Path(path)
    if not path.exists():
        return {}
    rows = (line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()[1:] if line.strip())
    return {row[0]: row[1] for row in rows}


def build_corpus(src_dir: str | Path, out_dir: str | Path) -> dict[str, list[Document]]:
    """Compile every ``*.txt`` under ``src_dir`` and write train/dev/test JSONL, split by story.

    The unit of splitting is the story cluster of ``stories.tsv`` beside ``src_dir`` (an
    article missing from it is its own story), so no story is in two splits. A story
    belongs to the topic of its first article (by id). Within each topic, stories are
    ranked by a hash of the story id and taken in turn: into test while it stays within a
    tenth of the topic's articles, else into dev likewise, else into train. Deterministic:
    the split depends only on the ids, topics and stories.
    """
    docs = [d for f in sorted(Path(src_dir).glob("*.txt")) for d in compile_file(f)]
    seen = {}
    for d in docs:
        if d.id in seen:
            raise MarkupError(str(src_dir), 0, f"article id {d.id!r} used twice")
        seen[d.id] = d
    story_of = read_stories(Path(src_dir).parent / "stories.tsv")
    stories = defaultdict(list)
    for d in sorted(docs, key=lambda d: d.id):
        stories[story_of.get(d.id, d.id)].append(d)
    by_topic = defaultdict(list)
    for story, members in stories.items():
        by_topic[members[0].meta.get("topic", "")].append(story)
    splits = {"train": [], "dev": [], "test": []}
    for topic in sorted(by_topic):
        ranked = sorted(by_topic[topic], key=lambda s: hashlib.sha1(s.encode()).hexdigest())
        n_test, n_dev = split_sizes(sum(len(stories[s]) for s in ranked))
        taken = {"test": 0, "dev": 0, "train": 0}
        for story in ranked:
            size = len(stories[story])
            name = next((k for k, cap in (("test", n_test), ("dev", n_dev)) if taken[k] + size <= cap), "train")
            taken[name] += size
            splits[name] += stories[story]
    for name, items in splits.items():
        items.sort(key=lambda d: d.id)
        write_jsonl(items, Path(out_dir) / f"{name}.jsonl")
    return splits
