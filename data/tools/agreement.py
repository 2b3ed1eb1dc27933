"""Inter-annotator agreement on data/newswire: a second, independent annotation of 30
articles, compared span by span with the first.

    python data/tools/agreement.py strip OUT.txt     # the 30 articles, markup removed
    python data/tools/agreement.py compare SECOND.txt...  # agreement per layer, Markdown

``strip`` picks every fourth article of the frozen test split (sorted by id: 30 of 120,
every desk represented) and writes its header line and plain text, so the second
annotator works from the words alone and never sees the first annotation. The second
annotation is committed (data/newswire/agreement/second-*.txt) before ``compare`` is run.

``compare`` requires identical texts and reports, per layer, F1 of one annotation against
the other (symmetric: precision one way is recall the other): entity mentions (span and
label), quote content (exact span), content with its kind, cue spans, speaker spans, and
whole attributions (content, cue and speaker all exact). Cohen's kappa does not fit span
annotation (no fixed set of items to label), so span F1 is the figure, as in PolNeAR.
"""
from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "src"))

from newstag.corpus.markup import compile_file  # noqa: E402

DATA = REPO / "data" / "newswire"
EVERY = 4


def first_annotation() -> list:
    docs = [d for path in sorted(DATA.glob("test-src/*.txt")) for d in compile_file(path)]
    return sorted(docs, key=lambda d: d.id)[::EVERY]


def header(doc) -> str:
    fields = " | ".join(f"{k}: {v}" for k, v in doc.meta.items())
    return f"### {doc.id}" + (f" | {fields}" if fields else "")


def strip(out: Path) -> int:
    docs = first_annotation()
    out.write_text("\n\n".join(f"{header(d)}\n{d.text}" for d in docs) + "\n", encoding="utf-8")
    print(f"{out}: {len(docs)} articles, markup removed")
    return 0


def span(s) -> tuple[int, int] | None:
    return (s.start, s.end) if s is not None else None


def layers(doc) -> dict[str, set]:
    """Each layer as a set of comparable items."""
    q = doc.quotes
    return {
        "entity (span and label)": {(e.start, e.end, e.label) for e in doc.entities},
        "quote content, exact": {(x.start, x.end) for x in q},
        "quote content and kind": {(x.start, x.end, x.kind) for x in q},
        "cue": {span(x.cue) for x in q if x.cue},
        "speaker": {span(x.speaker) for x in q if x.speaker},
        "attribution (content, cue, speaker)": {((x.start, x.end), span(x.cue), span(x.speaker)) for x in q},
    }


def compare(second_paths: list[Path]) -> int:
    first = {d.id: d for d in first_annotation()}
    second = {d.id: d for path in second_paths for d in compile_file(path)}
    second_path = Path(", ".join(p.name for p in second_paths))
    if set(first) != set(second):
        print(f"{second_path}: articles differ from the selection: missing {sorted(set(first) - set(second))}, "
              f"extra {sorted(set(second) - set(first))}")
        return 1
    for doc_id, doc in second.items():
        if doc.text != first[doc_id].text:
            at = next(i for i, (a, b) in enumerate(zip(doc.text + "\0", first[doc_id].text + "\0")) if a != b)
            print(f"{second_path}: {doc_id}: text differs from the first annotation at character {at}")
            return 1
    both, only_a, only_b = {}, {}, {}
    for doc_id in first:
        a, b = layers(first[doc_id]), layers(second[doc_id])
        for layer in a:
            both[layer] = both.get(layer, 0) + len(a[layer] & b[layer])
            only_a[layer] = only_a.get(layer, 0) + len(a[layer] - b[layer])
            only_b[layer] = only_b.get(layer, 0) + len(b[layer] - a[layer])
    print(f"{len(first)} articles, first annotation (test-src) against second ({second_path.name})\n")
    print("| layer | first | second | in both | F1 |")
    print("|---|---:|---:|---:|---:|")
    for layer in both:
        n_a, n_b = both[layer] + only_a[layer], both[layer] + only_b[layer]
        f1 = 200 * both[layer] / (n_a + n_b) if n_a + n_b else 100.0
        print(f"| {layer} | {n_a} | {n_b} | {both[layer]} | {f1:.1f} |")
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["strip"] and len(argv) == 2:
        return strip(Path(argv[1]))
    if argv[:1] == ["compare"] and len(argv) >= 2:
        return compare([Path(a) for a in argv[1:]])
    print(__doc__)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
