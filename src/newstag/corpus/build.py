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


def held_out_share(n: int) -> int:
    """Articles of a topic with n articles that a held-out split takes: a tenth, at least one from 3."""
    return max(1, round(n / 10)) if n >= 3 else 0


def read_stories(path: str | Path) -> dict[str, str]:
    """Article id -> story id from a ``id<TAB>story`` file (``data/tools/stories.py``); {} if none."""
    path = Path(path)
    if not path.exists():
        return {}
    rows = (line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()[1:] if line.strip())
    return {row[0]: row[1] for row in rows}


def compile_folder(folder: Path) -> list[Document]:
    """Every article of every ``*.txt`` in a folder, ids checked to be unique."""
    docs, seen = [], set()
    for f in sorted(folder.glob("*.txt")):
        for d in compile_file(f):
            if d.id in seen:
                raise MarkupError(str(f), 0, f"article id {d.id!r} used twice")
            seen.add(d.id)
            docs.append(d)
    return docs


def split_by_story(docs: list[Document], story_of: dict[str, str], held_out: tuple[str, ...]) -> dict:
    """Train and the ``held_out`` splits, by story cluster (an article missing from
    ``story_of`` is its own story), so no story is in two splits. A story belongs to the
    topic of its first article (by id). Within each topic, stories are ranked by a hash of
    the story id and taken in turn into each held-out split while it stays within a tenth
    of the topic's articles, else into train."""
    stories = defaultdict(list)
    for d in sorted(docs, key=lambda d: d.id):
        stories[story_of.get(d.id, d.id)].append(d)
    by_topic = defaultdict(list)
    for story, members in stories.items():
        by_topic[members[0].meta.get("topic", "")].append(story)
    splits = {"train": [], **{name: [] for name in held_out}}
    for topic in sorted(by_topic):
        ranked = sorted(by_topic[topic], key=lambda s: hashlib.sha1(s.encode()).hexdigest())
        cap = held_out_share(sum(len(stories[s]) for s in ranked))
        taken = dict.fromkeys(splits, 0)
        for story in ranked:
            size = len(stories[story])
            name = next((k for k in held_out if taken[k] + size <= cap), "train")
            taken[name] += size
            splits[name] += stories[story]
    return splits


def build_corpus(src_dir: str | Path, out_dir: str | Path) -> dict[str, list[Document]]:
    """Compile the markup and write train/dev/test JSONL.

    ``src_dir`` is split by story into train and dev. The test split is ``test-src``
    beside it when that folder exists (written from its own brief and frozen), else a
    third story split of ``src_dir`` (as corpus v1 was built).
    """
    src_dir = Path(src_dir)
    test_dir = src_dir.parent / "test-src"
    docs = compile_folder(src_dir)
    story_of = read_stories(src_dir.parent / "stories.tsv")
    if test_dir.is_dir():
        test = compile_folder(test_dir)
        clash = {d.id for d in docs} & {d.id for d in test}
        if clash:
            raise MarkupError(str(test_dir), 0, f"article ids also in {src_dir}: {sorted(clash)[:5]}")
        splits = split_by_story(docs, story_of, ("dev",)) | {"test": test}
    else:
        splits = split_by_story(docs, story_of, ("test", "dev"))
    for name, items in splits.items():
        items.sort(key=lambda d: d.id)
        write_jsonl(items, Path(out_dir) / f"{name}.jsonl")
    return splits
