"""Check markup source files before they join the corpus: compile, validate, and show how
each article measures against the v2 rates (data/README.md, "Write without quotas").

For every article: words, quotes, quotes without a speaker, quotes over 40 words, pronoun
speakers, the cues used; then the validator's problems (the same rules as
``newstag data check``) and the invented full names (PER mentions of two or more words)
that another source file of data/newswire already uses, which would tie two stories
together and may leak a person across splits.

    python data/tools/check_src.py data/newswire/src/h-01.txt [more files]

Exit 0 when every file compiles and has no problems or shared names, 1 otherwise.
"""
from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "src"))

from newstag.corpus.check import check_document  # noqa: E402
from newstag.corpus.markup import MarkupError, compile_file  # noqa: E402
from newstag.labels import ENTITY_LABELS  # noqa: E402
from newstag.lexicon import PRONOUNS  # noqa: E402

DATA = REPO / "data" / "newswire"


def full_names(docs) -> set[str]:
    return {e.text for d in docs for e in d.entities if e.label == "PER" and " " in e.text}


def names_elsewhere(checked: set[Path]) -> dict[str, str]:
    """Invented full names of every other source file, name -> file."""
    owner = {}
    for path in sorted([*DATA.glob("src/*.txt"), *DATA.glob("test-src/*.txt")]):
        if path.resolve() in checked:
            continue
        try:
            docs = compile_file(path)
        except (MarkupError, ValueError) as exc:  # another writer's file, half written
            print(f"note: names of {path.name} not compared (it does not compile: {exc})")
            continue
        for name in full_names(docs):
            owner.setdefault(name, path.name)
    return owner


def article_line(doc) -> str:
    quotes = doc.quotes
    cues = Counter(q.cue.text.lower() for q in quotes if q.cue)
    pronouns = sum(q.speaker is not None and q.speaker.text.lower().split()[-1] in PRONOUNS for q in quotes)
    return (f"{doc.id}: {len(doc.text.split())} words, {len(quotes)} quotes, "
            f"{sum(q.speaker is None for q in quotes)} without speaker, "
            f"{sum(len(q.text.split()) > 40 for q in quotes)} over 40 words, {pronouns} pronoun speakers; "
            f"cues: {', '.join(f'{c} {n}' for c, n in cues.most_common())}")


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv]
    if not paths:
        print(__doc__)
        return 2
    bad = 0
    docs_by_path = {}
    for path in paths:
        try:
            docs_by_path[path] = compile_file(path)
        except (MarkupError, ValueError, OSError) as exc:
            print(f"ERROR {exc}")
            bad += 1
    elsewhere = names_elsewhere({p.resolve() for p in paths})
    labels = set(ENTITY_LABELS)
    all_cues: Counter = Counter()
    for path, docs in docs_by_path.items():
        print(f"== {path}: {len(docs)} articles")
        for doc in docs:
            print("  " + article_line(doc))
            all_cues.update(q.cue.text.lower() for q in doc.quotes if q.cue)
            for problem in check_document(doc, labels):
                print(f"  PROBLEM {doc.id}: {problem}")
                bad += 1
        for name in sorted(full_names(docs)):
            if name in elsewhere:
                print(f"  SHARED NAME {name!r} is also in {elsewhere[name]}: rename it")
                bad += 1
    total = sum(all_cues.values())
    if total:
        print(f"cues over these files ({total}): " + ", ".join(
            f"{c} {100 * n / total:.1f} %" for c, n in all_cues.most_common(12)))
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
