"""Group data/newswire's articles into story clusters, so that a split never cuts a story.

Two articles belong to one story when

* their texts are near duplicates: TF-IDF cosine >= 0.25 over content words
  (lower-cased words of three or more letters, function words left out; tf = count,
  idf = 1 + ln(N / df), vectors of unit length); or
* they share an invented full name: a PER mention of two or more words, same text.

Clusters are the connected components of these links (union-find). Writes, beside the
src folder::

    stories.tsv       id<TAB>story       every article, sorted by id; story = the
                                         cluster's smallest article id
    shared-names.tsv  name<TAB>ids       full names in more than one article

and prints a summary. Standard library only; the output depends only on the markup.

    python data/tools/stories.py [data/newswire]
"""
from __future__ import annotations

import math
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

from newstag.corpus.markup import compile_file

THRESHOLD = 0.25
# Real people the articles mention as backdrop: a shared real name does not make a story.
REAL_PEOPLE = {"Yuri Gagarin"}
WORD = re.compile(r"[^\W\d_]{3,}")
STOPWORDS = set("""
about above after again against all also although among and another any are around
because been before being below between both but can could did does doing down during
each either even ever every few for from further had has have having her here hers
herself him himself his how however into its itself just last least less like made
make many may more most much must near neither next nor not now off once one only
other others our ours out over own per rather said same say says she should since
some still such than that the their theirs them themselves then there these they
this those though through thus too two under until upon very was were what when
where whether which while who whom whose why will with within without would year
years yet you your yours
""".split())


def content_words(text: str) -> list[str]:
    return [w for w in WORD.findall(text.lower()) if w not in STOPWORDS]


def tfidf(texts: list[list[str]]) -> list[dict[str, float]]:
    """Unit-length TF-IDF vectors (sparse dicts), one per token list."""
    df = Counter(w for words in texts for w in set(words))
    n = len(texts)
    vectors = []
    for words in texts:
        v = {w: c * (1 + math.log(n / df[w])) for w, c in Counter(words).items()}
        norm = math.sqrt(sum(x * x for x in v.values())) or 1.0
        vectors.append({w: x / norm for w, x in v.items()})
    return vectors


def cosine(a: dict[str, float], b: dict[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(x * b.get(w, 0.0) for w, x in a.items())


def full_names(doc) -> set[str]:
    names = {" ".join(doc.text[e.start:e.end].split()) for e in doc.entities if e.label == "PER"}
    return {n for n in names if len(n.split()) >= 2 and n not in REAL_PEOPLE}


def main(argv: list[str]) -> int:
    corpus = Path(argv[0] if argv else Path(__file__).resolve().parents[1] / "newswire")
    docs = sorted((d for f in sorted((corpus / "src").glob("*.txt")) for d in compile_file(f)), key=lambda d: d.id)
    ids = [d.id for d in docs]

    parent = {i: i for i in ids}

    def find(i: str) -> str:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:  # the smaller id stays the root, so the root is the story id
            parent[max(ra, rb)] = min(ra, rb)

    vectors = tfidf([content_words(d.text) for d in docs])
    pairs = []
    for i in range(len(docs)):
        for j in range(i + 1, len(docs)):
            sim = cosine(vectors[i], vectors[j])
            if sim >= THRESHOLD:
                pairs.append((ids[i], ids[j], sim))
                union(ids[i], ids[j])

    shared = defaultdict(set)
    for d in docs:
        for name in full_names(d):
            shared[name].add(d.id)
    shared = {name: sorted(where) for name, where in sorted(shared.items()) if len(where) > 1}
    for where in shared.values():
        for other in where[1:]:
            union(where[0], other)

    story = {i: find(i) for i in ids}
    with open(corpus / "stories.tsv", "w", encoding="utf-8") as f:
        f.write("id\tstory\n")
        f.writelines(f"{i}\t{story[i]}\n" for i in ids)
    with open(corpus / "shared-names.tsv", "w", encoding="utf-8") as f:
        f.write("name\tids\n")
        f.writelines(f"{name}\t{' '.join(where)}\n" for name, where in shared.items())

    members = defaultdict(list)
    for i in ids:
        members[story[i]].append(i)
    multi = sorted((m for m in members.values() if len(m) > 1), key=lambda m: (-len(m), m[0]))
    sizes = Counter(len(m) for m in members.values())
    print(f"{len(docs)} articles, {len(members)} stories; "
          + ", ".join(f"{n} of size {k}" for k, n in sorted(sizes.items(), reverse=True)))
    print(f"{len(pairs)} near-duplicate pairs (cosine >= {THRESHOLD}), {len(shared)} shared full names")
    print("largest stories:")
    for m in multi[:10]:
        print("  " + " ".join(m))
    print("shared full names:")
    for name, where in shared.items():
        print(f"  {name}: {' '.join(where)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
