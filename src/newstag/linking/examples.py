"""Training groups for the learned linker's scorers, read from gold documents.

A group is (feature rows of one choice, indices of the right rows). Speaker groups come
from the gold spans, or from the tagger's predicted spans labelled by the gold links
(matching.py decides which predicted quote finds which gold quote, as evaluation does).
"""
from __future__ import annotations

from ..lexicon import NAME_LABELS
from ..matching import matched_quotes, names_gold_speaker, surname
from .features import Context, Spoken
from ..spanindex import SpanIndex
from .spans import Mention, Predictions


def resolution_and_speaker_groups(linker, doc, speaker_groups: bool = True) -> tuple[list, list]:
    """(speaker groups, or none when ``speaker_groups`` is False; resolution groups) of one gold document."""
    quotes = sorted(doc.quotes, key=lambda q: q.start)
    gold_spans = Predictions.of_gold(doc)
    names = SpanIndex(e for e in gold_spans.entities if e.label in NAME_LABELS)
    speakers = SpanIndex(gold_spans.speakers)
    ctx = Context.of(doc.text, gold_spans.cues, gold_spans.quotes)
    s_groups, r_groups, previous, spoken = [], [], None, Spoken(doc.text)
    for gold, q in zip(quotes, gold_spans.quotes):
        if speaker_groups:
            cands, rows = linker.candidate_rows(ctx, q, speakers, names, previous)
            positive = [0] if gold.speaker is None else \
                [i + 1 for i, (c, _, _) in enumerate(cands) if (c.start, c.end) == (gold.speaker.start, gold.speaker.end)]
            if positive:
                s_groups.append((rows, positive))
        if gold.speaker is None:
            continue
        chosen = Mention(gold.speaker.start, gold.speaker.end, 1.0, "SPEAKER")
        has_name = bool(names.within(chosen.start, chosen.end))
        if not has_name and doc.entities:
            r_cands, r_rows = linker.resolve_rows(ctx, chosen, names, spoken)
            if gold.speaker_entity is None:
                r_pos = [0]
            else:
                target = surname(doc.text, gold.speaker_entity)
                r_pos = [i + 1 for i, e in enumerate(r_cands) if surname(doc.text, e) == target]
            if r_pos:
                r_groups.append((r_rows, r_pos))
        previous = chosen
        ent = gold.speaker_entity
        spoken.append(Mention(ent.start, ent.end) if ent else chosen)
    return s_groups, r_groups


def speaker_groups_from_predictions(linker, doc, found: Predictions) -> list:
    """Speaker-scorer groups from the tagger's spans for a gold document.

    Each predicted quote that finds a gold quote is one group; its right candidates are
    those that name the gold speaker, or "no speaker" when the gold quote has none. A
    quote whose speaker the tagger missed entirely teaches nothing and is left out. The
    previous speaker is the right one (teacher forcing), as decoding would have it.
    """
    quotes = sorted(found.quotes, key=lambda q: q.start)
    names = SpanIndex(e for e in found.entities if e.label in NAME_LABELS) if linker.uses_entities else SpanIndex([])
    speakers = SpanIndex(found.speakers)
    gold_of = matched_quotes(doc.text, doc.quotes, quotes)
    ctx = Context.of(doc.text, found.cues, quotes, use_scores=True)
    groups, previous = [], None
    for i, q in enumerate(quotes):
        gold = gold_of.get(i)
        if gold is None:  # a spurious quote: no speaker to learn, and it breaks the chain
            previous = None
            continue
        cands, rows = linker.candidate_rows(ctx, q, speakers, names, previous)
        if gold.speaker is None:
            positive = [0]
        else:
            positive = [j + 1 for j, (c, _, _) in enumerate(cands) if names_gold_speaker(doc.text, gold, [c])]
        if positive:
            groups.append((rows, positive))
        previous = cands[positive[0] - 1][0] if positive and positive[0] else None
    return groups
