"""A learned quote → speaker linker, and a learned resolver from speaker to name.

Two small scorers, each a softmax over candidates plus a "none" option:

1. **speaker**: for a quote, every SPEAKER span and PER/ORG mention within a few
   paragraphs before it (and one after) is a candidate. Features describe the pair:
   sentence, paragraph and character distance, order, whether a cue stands next to the
   candidate, whether the candidate is a pronoun, relative pronoun or description,
   whether it spoke the previous quote, the quote's kind and whether it has a cue of
   its own. A continued quote learns to pick its predecessor's speaker.
2. **resolution**: for a speaker that is not itself a name, every earlier PER/ORG
   mention (and a few after it in its sentence) is a candidate; features: distance in
   mentions and sentences, label against the pronoun or description's class, "X, who"
   adjacency, salience (how often the name recurs), whether it spoke before.

Both are trained from gold links (the scorers are tiny and train in seconds) and saved
beside the tagger as ``linker.safetensors``. The speaker scorer learns either on the gold
spans or, better, on the tagger's own spans of the same articles labelled from the gold
links (``fit(docs, predicted=...)``): then it meets at training time what it meets at
prediction time, and can weigh the tagger's confidence in each candidate. The scorers
see hand-made pair features, not encoder states: linking decisions span paragraphs
beyond one encoder window, and these features carry what decides them.
"""
from __future__ import annotations

import bisect
import math
import re
from dataclasses import dataclass, field
from typing import Optional

import torch
from torch import nn

from .linking import LinkedQuote, SpanPred, adjacent_cue, gold_link_inputs, nearest_cue
from .text import Sentences

PERSONAL = {"he", "she", "him", "her", "his", "i", "me", "we", "us", "you"}
GROUP = {"it", "they", "them", "its", "their"}
RELATIVE_PERSON = {"who", "whom", "whose"}
RELATIVE_THING = {"which", "that"}
DETERMINERS = {"the", "a", "an", "this", "that", "these", "those", "its", "his", "her", "their", "our"}
PERSON_NOUNS = {"minister", "president", "spokesman", "spokeswoman", "spokesperson", "official", "chief", "leader",
                "director", "mayor", "governor", "secretary", "chairman", "chairwoman", "chair", "executive", "coach",
                "manager", "judge", "lawyer", "prosecutor", "doctor", "professor", "researcher", "scientist", "author",
                "senator", "lawmaker", "ambassador", "captain", "founder", "owner", "officer", "head", "woman", "man",
                "mother", "father", "farmer", "nurse", "teacher", "striker", "player", "singer", "artist", "envoy"}
ORG_NOUNS = {"company", "ministry", "government", "union", "club", "party", "agency", "court", "police", "firm",
             "group", "council", "department", "organisation", "organization", "bank", "board", "committee",
             "authority", "commission", "association", "federation", "team", "hospital", "university", "school",
             "campaign", "airline", "carrier", "regulator", "operator", "league", "museum", "institute", "army",
             "military", "administration", "office", "parliament", "senate", "charity", "network", "alliance"}
WORD = re.compile(r"\w+")


def word_class(text: str) -> list[float]:
    """What kind of mention a speaker is: pronoun, relative pronoun, description, name-ish."""
    words = [w.lower() for w in WORD.findall(text)]
    first, last = (words[0], words[-1]) if words else ("", "")
    head = last
    return [float(len(words) == 1 and first in PERSONAL), float(len(words) == 1 and first in GROUP),
            float(len(words) == 1 and first in RELATIVE_PERSON), float(len(words) == 1 and first in RELATIVE_THING),
            float(first in DETERMINERS and len(words) > 1), float(head in PERSON_NOUNS or any(w in PERSON_NOUNS for w in words)),
            float(head in ORG_NOUNS or any(w in ORG_NOUNS for w in words)), float(bool(text[:1].isupper()) and first not in DETERMINERS),
            math.log1p(len(words)) / 3]


def _bucket(value: int, edges: list[int]) -> list[float]:
    """One-hot of ``value`` over closed buckets given by edges (values clipped at both ends)."""
    value = min(max(value, edges[0]), edges[-1])
    return [float(value == e) for e in edges]


@dataclass
class Context:
    text: str
    sents: Sentences
    paragraphs: list[int]  # start offsets of paragraphs
    cues: list[SpanPred]
    quotes: list[LinkedQuote]
    use_scores: bool = False
    cache: dict = field(default_factory=dict)  # per-span answers, asked for many quotes

    @classmethod
    def of(cls, text, cues, quotes, use_scores=False):
        starts = [0] + [m.end() for m in re.finditer(r"\n\s*", text)]
        return cls(text, Sentences(text), starts, cues, quotes, use_scores)

    def paragraph(self, offset: int) -> int:
        return bisect.bisect_right(self.paragraphs, offset) - 1

    def cue_next_to(self, span: SpanPred) -> bool:
        key = ("cue", span.start, span.end)
        if key not in self.cache:
            self.cache[key] = self._cue_next_to(span)
        return self.cache[key]

    def _cue_next_to(self, span: SpanPred) -> bool:
        for c in self.cues:
            gap = self.text[span.end:c.start] if c.start >= span.end else self.text[c.end:span.start]
            if (c.start >= span.end or c.end <= span.start) and len(gap) <= 25 and "\n" not in gap and \
                    not any(ch in gap for ch in "“”\""):
                return True
        return False

    def inside_quote(self, span: SpanPred) -> bool:
        key = ("quote", span.start, span.end)
        if key not in self.cache:
            self.cache[key] = any(q.start <= span.start and span.end <= q.end for q in self.quotes)
        return self.cache[key]


SPEAKER_FEATURES = 45


def cue_side(ctx: "Context", q: LinkedQuote, c: SpanPred) -> list[float]:
    """Whether the quote has a cue, and the candidate stands before it (the subject in
    "X told Y that ...") or after it (the addressee, or "said X")."""
    cue = own_cue(ctx, q)
    if cue is None:
        return [0.0, 0.0, 0.0]
    return [1.0, float(c.end <= cue.start), float(c.start >= cue.end)]


def own_cue(ctx: "Context", q: LinkedQuote) -> Optional[SpanPred]:
    """The quote's own cue (``linking.nearest_cue``), found once per quote."""
    key = ("own cue", q.start, q.end)
    if key not in ctx.cache:
        ctx.cache[key] = nearest_cue(q, ctx.cues, ctx.sents)
    return ctx.cache[key]

RESOLVE_FEATURES = 30


def speaker_features(ctx: Context, q: LinkedQuote, c: Optional[SpanPred], previous_speaker: Optional[SpanPred],
                     is_speaker_span: bool, has_name: bool) -> list[float]:
    """Features of one (quote, candidate) pair; ``c`` None is the "no speaker" option."""
    q_first, q_last = ctx.sents.index(q.start), ctx.sents.index(max(q.end - 1, q.start))
    quote_part = [float(q.kind == "direct"), float(q.kind == "indirect"), float(q.kind == "mixed"),
                  float(own_cue(ctx, q) is not None),
                  float(ctx.paragraph(q.start) != ctx.paragraph(max(q.start - 1, 0)) or q.start == 0),
                  float(previous_speaker is not None)]
    if c is None:
        return [1.0] + [0.0] * (SPEAKER_FEATURES - 1 - len(quote_part)) + quote_part
    cs = ctx.sents.index(c.start)
    sent_delta = 0 if q_first <= cs <= q_last else (cs - q_first if cs < q_first else cs - q_last)
    para_delta = ctx.paragraph(c.start) - ctx.paragraph(q.start)
    before = c.end <= q.start
    gap = q.start - c.end if before else c.start - q.end
    between = sum(1 for o in ctx.quotes if o is not q and (c.end <= o.start < q.start if before else q.end <= o.start < c.start))
    same_as_previous = previous_speaker is not None and previous_speaker.start < c.end and c.start < previous_speaker.end
    feats = [0.0, float(before), float(not before)]
    feats += _bucket(sent_delta, [-3, -2, -1, 0, 1, 2])
    feats += _bucket(para_delta, [-2, -1, 0, 1])
    feats += [math.log1p(max(gap, 0)) / 8, math.log1p(between), float(is_speaker_span), float(not is_speaker_span),
              float(c.label == "PER"), float(c.label == "ORG"), float(has_name), float(ctx.cue_next_to(c)),
              float(same_as_previous), float(ctx.inside_quote(c))]
    feats += word_class(ctx.text[c.start:c.end])
    # The tagger's confidence in the candidate counts only for a scorer fitted on predicted
    # spans: on gold spans it is always 1, and nothing could be learned of lower values.
    feats += cue_side(ctx, q, c) + [c.score if ctx.use_scores else 0.0]
    feats += [0.0] * (SPEAKER_FEATURES - len(feats) - len(quote_part))
    return feats + quote_part


def resolve_features(ctx: Context, s: SpanPred, e: Optional[SpanPred], names: list[SpanPred],
                     previous_entities: list[SpanPred]) -> list[float]:
    cls = word_class(ctx.text[s.start:s.end])
    if e is None:
        return [1.0] + [0.0] * (RESOLVE_FEATURES - 1 - len(cls)) + cls
    before = e.end <= s.start
    lo, hi = (e.end, s.start) if before else (s.end, e.start)
    between = sum(1 for n in names if lo <= n.start and n.end <= hi)
    sd = ctx.sents.index(s.start) - ctx.sents.index(e.start)
    gap_text = ctx.text[e.end:s.start] if before else ""
    surname = ctx.text[e.start:e.end].split()[-1].lower()
    salience = sum(1 for n in names if ctx.text[n.start:n.end].split()[-1].lower() == surname)
    spoke = any(p.start < e.end and e.start < p.end or ctx.text[p.start:p.end].split()[-1].lower() == surname
                for p in previous_entities)
    feats = [0.0, float(before), math.log1p(between), math.log1p(abs(s.start - e.end)) / 8]
    feats += _bucket(sd, [-1, 0, 1, 2, 3])
    feats += [float(e.label == "PER"), float(e.label == "ORG"), float(before and len(gap_text) <= 3 and "," in gap_text),
              float(before and gap_text.strip() == ""), math.log1p(salience), float(spoke), float(ctx.inside_quote(e)),
              float(ctx.sents.index(e.start) != ctx.sents.index(max(e.start - 1, 0)))]
    feats += [0.0] * (RESOLVE_FEATURES - len(feats) - len(cls))
    return feats + cls


class Scorer(nn.Module):
    def __init__(self, n_features: int, hidden: int = 32):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_features, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, x):
        return self.net(x).squeeze(-1)


class LearnedLinker(nn.Module):
    """Same call as ``linking.link``: fills each quote's cue, speaker and speaker_entity."""

    PARAGRAPHS_BEFORE, PARAGRAPHS_AFTER = 3, 1

    def __init__(self):
        super().__init__()
        self.speaker = self.new_speaker_scorer()
        self.resolver = Scorer(RESOLVE_FEATURES)
        # Whether the training data had entity mentions to offer as candidates. A linker
        # fitted on quotes alone (PolNeAR) never saw them, so it does not get them later:
        # a tagger trained without entities predicts none worth choosing.
        self.register_buffer("uses_entities", torch.tensor(1.0))
        # Whether the speaker scorer was fitted on the tagger's predicted spans, and so
        # learned what the tagger's confidence in a candidate is worth.
        self.register_buffer("uses_scores", torch.tensor(0.0))

    def new_speaker_scorer(self) -> nn.Module:
        """A fresh scorer over the rows ``candidate_rows`` gives (a variant that adds
        features to the rows brings its own)."""
        return Scorer(SPEAKER_FEATURES)

    # ---- candidates ---------------------------------------------------------------
    def speaker_candidates(self, ctx: Context, q: LinkedQuote, speakers, names):
        p = ctx.paragraph(q.start)
        lo, hi = p - self.PARAGRAPHS_BEFORE, p + self.PARAGRAPHS_AFTER
        out = []
        for s in speakers:
            if lo <= ctx.paragraph(s.start) <= hi and not (q.start <= s.start < q.end):
                has_name = any(s.start <= n.start and n.end <= s.end for n in names)
                out.append((s, True, has_name))
        for n in names:
            inside_speaker = any(s.start <= n.start and n.end <= s.end for s in speakers)
            if lo <= ctx.paragraph(n.start) <= hi and not (q.start <= n.start < q.end) and not inside_speaker:
                out.append((n, False, True))
        return out

    def candidate_rows(self, ctx: Context, q: LinkedQuote, speakers, names, previous):
        """The quote's candidates and their feature rows; row 0 is "no speaker"."""
        cands = self.speaker_candidates(ctx, q, speakers, names)
        rows = [speaker_features(ctx, q, None, previous, False, False)] + \
               [speaker_features(ctx, q, c, previous, is_sp, has_name) for c, is_sp, has_name in cands]
        return cands, rows

    def resolve_candidates(self, ctx: Context, s: SpanPred, names):
        sent = ctx.sents.index(s.start)
        before = [n for n in names if n.end <= s.start][-40:]
        after = [n for n in names if n.start >= s.end and ctx.sents.index(n.start) == sent][:3]
        return before + after

    # ---- decoding -----------------------------------------------------------------
    @torch.no_grad()
    def forward(self, text, quotes, cues, speakers, entities):
        self.eval()
        names = [e for e in entities if e.label in ("PER", "ORG")] if self.uses_entities else []
        ordered = sorted(quotes, key=lambda q: q.start)
        ctx = Context.of(text, cues, ordered, use_scores=bool(self.uses_scores))
        previous, previous_cue, spoken = None, None, []
        for q in ordered:
            cands, rows = self.candidate_rows(ctx, q, speakers, names, previous)
            scores = torch.softmax(self.speaker(torch.tensor(rows)), 0)
            best = int(scores.argmax())
            q.cue = own_cue(ctx, q)
            if best == 0:
                q.speaker = q.speaker_entity = None
            else:
                chosen, _, has_name = cands[best - 1]
                q.speaker = chosen
                if q.cue is None and previous is chosen:  # a continued quote keeps its attribution's cue
                    q.cue = previous_cue
                q.extra["speaker_score"] = float(scores[best])
                q.speaker_entity = None if has_name else self._resolve(ctx, chosen, names, spoken)
                previous, previous_cue = chosen, q.cue
                spoken.append(q.speaker_entity or chosen)
            q.cue = q.cue or adjacent_cue(q, ctx.cues, ctx.quotes, ctx.sents)
        return quotes

    def _resolve(self, ctx, s, names, spoken):
        cands = self.resolve_candidates(ctx, s, names)
        rows = [resolve_features(ctx, s, None, names, spoken)] + [resolve_features(ctx, s, e, names, spoken) for e in cands]
        best = int(self.resolver(torch.tensor(rows)).argmax())
        return cands[best - 1] if best else None

    # ---- training -----------------------------------------------------------------
    def fit(self, docs, predicted=None, epochs: int = 20, lr: float = 3e-3, seed: int = 13, log=None) -> dict:
        """Learn both scorers from gold documents.

        ``predicted``: optionally, the tagger's spans for the same documents
        (``inference.RawSpans``, as ``Tagger.spans`` gives them). The speaker scorer then
        learns on those spans, labelled from the gold links, as it will meet them at
        prediction time: boundaries a little off, spurious candidates, a confidence per
        span. Use documents the tagger was not trained on. Without it, both scorers learn
        on the gold spans.
        """
        # Fresh weights drawn after seeding: the fitted linker depends on data and seed
        # alone, not on whatever the random state was when the object was made.
        torch.manual_seed(seed)
        self.speaker = self.new_speaker_scorer()
        self.resolver = Scorer(RESOLVE_FEATURES)
        self.uses_entities.fill_(float(any("entities" in d.layers and d.entities for d in docs)))
        self.uses_scores.fill_(float(predicted is not None))
        if predicted is not None and len(predicted) != len(docs):
            raise ValueError(f"{len(predicted)} predictions for {len(docs)} documents")
        speaker_groups, resolve_groups = [], []
        for i, doc in enumerate(docs):
            if "quotes" not in doc.layers:
                continue
            s_groups, r_groups = examples_of(self, doc, speaker_groups=predicted is None)
            if predicted is not None:
                s_groups = examples_from_predictions(self, doc, predicted[i])
            speaker_groups += s_groups
            resolve_groups += r_groups
        stats = {"speaker_examples": len(speaker_groups), "resolve_examples": len(resolve_groups),
                 "speaker_spans": "predicted" if predicted is not None else "gold"}
        for scorer, groups in ((self.speaker, speaker_groups), (self.resolver, resolve_groups)):
            if groups:
                loss = train_scorer(scorer, groups, epochs, lr)
                if log:
                    log(f"linker: final loss {loss:.4f} on {len(groups)} examples")
        return stats

    def save(self, directory):
        """Write ``linker.safetensors`` into a model directory, replacing any old one whole."""
        import os

        from safetensors.torch import save_file

        tmp = directory / "linker.safetensors.tmp"
        save_file({k: v.contiguous() for k, v in self.state_dict().items()}, str(tmp))
        os.replace(tmp, directory / "linker.safetensors")

    @classmethod
    def load(cls, directory):
        from safetensors.torch import load_file

        linker = cls()
        state = load_file(str(directory / "linker.safetensors"))
        state.setdefault("uses_entities", torch.tensor(1.0))  # linkers saved before the flags existed
        state.setdefault("uses_scores", torch.tensor(0.0))
        linker.load_state_dict(state)
        return linker.eval()


def train_scorer(scorer: Scorer, groups, epochs: int, lr: float, batch_size: int = 128) -> float:
    """Softmax over each group's candidates; the loss is -log P(any correct candidate).

    Groups of similar size are batched together, each batch padded to its own widest group.
    """
    order = sorted(range(len(groups)), key=lambda g: len(groups[g][0]))
    batches = []
    for i in range(0, len(order), batch_size):
        chunk = [groups[g] for g in order[i:i + batch_size]]
        width = max(len(rows) for rows, _ in chunk)
        x = torch.zeros(len(chunk), width, len(chunk[0][0][0]))
        valid = torch.zeros(len(chunk), width, dtype=torch.bool)
        positive = torch.zeros(len(chunk), width, dtype=torch.bool)
        for g, (rows, pos) in enumerate(chunk):
            x[g, :len(rows)] = torch.tensor(rows)
            valid[g, :len(rows)] = True
            positive[g, pos] = True
        batches.append((x, valid, positive))
    optimizer = torch.optim.Adam(scorer.parameters(), lr=lr, weight_decay=1e-4)
    scorer.train()
    for _ in range(epochs):
        total = 0.0
        for b in torch.randperm(len(batches)).tolist():
            x, valid, positive = batches[b]
            scores = scorer(x)
            all_ = torch.logsumexp(scores.masked_fill(~valid, -1e9), -1)
            right = torch.logsumexp(scores.masked_fill(~positive, -1e9), -1)
            loss = (all_ - right).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(x)
    scorer.eval()
    return total / len(groups)


def _surname(text, span):
    words = text[span.start:span.end].split()
    return words[-1].lower() if words else ""


def examples_of(linker: LearnedLinker, doc, speaker_groups: bool = True) -> tuple[list, list]:
    """Training groups (feature rows, indices of correct rows) from one gold document:
    (speaker groups, or none when ``speaker_groups`` is False; resolution groups)."""
    text = doc.text
    quotes = sorted(doc.quotes, key=lambda q: q.start)
    linked, cues, speakers, entities = gold_link_inputs(doc)
    names = [e for e in entities if e.label in ("PER", "ORG")]
    ctx = Context.of(text, cues, linked)
    s_groups, r_groups, previous, spoken = [], [], None, []
    for gold, q in zip(quotes, linked):
        if speaker_groups:
            cands, rows = linker.candidate_rows(ctx, q, speakers, names, previous)
            positive = [0] if gold.speaker is None else \
                [i + 1 for i, (c, _, _) in enumerate(cands) if (c.start, c.end) == (gold.speaker.start, gold.speaker.end)]
            if positive:
                s_groups.append((rows, positive))
        if gold.speaker is None:
            continue
        chosen = SpanPred(gold.speaker.start, gold.speaker.end, 1.0, "SPEAKER")
        has_name = any(chosen.start <= n.start and n.end <= chosen.end for n in names)
        if not has_name and doc.entities:
            r_cands = linker.resolve_candidates(ctx, chosen, names)
            r_rows = [resolve_features(ctx, chosen, None, names, spoken)] + \
                     [resolve_features(ctx, chosen, e, names, spoken) for e in r_cands]
            if gold.speaker_entity is None:
                r_pos = [0]
            else:
                target = _surname(text, gold.speaker_entity)
                r_pos = [i + 1 for i, e in enumerate(r_cands) if _surname(text, e) == target]
            if r_pos:
                r_groups.append((r_rows, r_pos))
        previous = chosen
        ent = gold.speaker_entity
        spoken.append(SpanPred(ent.start, ent.end) if ent else chosen)
    return s_groups, r_groups


def examples_from_predictions(linker: LearnedLinker, doc, found) -> list:
    """Speaker-scorer training groups from the tagger's spans for a gold document.

    Each predicted quote that finds a gold quote (as attribution scoring matches them)
    is one group; its right candidates are those that name the gold speaker (overlap it
    or its name, or share the surname), or "no speaker" when the gold quote has none.
    A quote whose speaker the tagger missed entirely teaches nothing and is left out.
    The previous speaker is the right one (teacher forcing), as decoding would have it.
    """
    from .evaluation import matched_quotes, names_gold_speaker

    text = doc.text
    quotes = sorted(found.quotes, key=lambda q: q.start)
    names = [e for e in found.entities if e.label in ("PER", "ORG")] if linker.uses_entities else []
    gold_of = matched_quotes(text, doc.quotes, quotes)
    ctx = Context.of(text, found.cues, quotes, use_scores=True)
    groups, previous = [], None
    for i, q in enumerate(quotes):
        gold = gold_of.get(i)
        if gold is None:  # a spurious quote: no speaker to learn, and it breaks the chain
            previous = None
            continue
        cands, rows = linker.candidate_rows(ctx, q, found.speakers, names, previous)
        if gold.speaker is None:
            positive = [0]
        else:
            positive = [j + 1 for j, (c, _, _) in enumerate(cands) if names_gold_speaker(text, gold, [c])]
        if positive:
            groups.append((rows, positive))
        previous = cands[positive[0] - 1][0] if positive and positive[0] else None
    return groups
