"""The learned linker: two small scorers, each a softmax over candidates plus "none".

1. **speaker**: for a quote, every SPEAKER span and PER/ORG mention within three
   paragraphs before it and one after is a candidate (features.py: distance in
   sentences and paragraphs, order, a cue beside the candidate, pronoun / relative
   pronoun / description, whether it spoke the previous quote, the quote's kind).
   A continued quote learns to pick its predecessor's speaker.
2. **resolution**: for a speaker that is not itself a name, every earlier PER/ORG
   mention (and a few after it in its sentence) is a candidate.

Both are fitted from gold links in seconds and saved beside the tagger as
``linker.safetensors``, with their feature names. The speaker scorer learns either on
the gold spans or on the tagger's own spans of the same articles labelled from the gold
links (``fit(docs, predicted=...)``): then it meets at training time what it meets at
prediction time, and can weigh the tagger's confidence in each candidate.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from ..lexicon import NAME_LABELS
from .features import RESOLVE_FEATURES, SPEAKER_FEATURES, Context, Spoken, resolve_row, speaker_row
from ..spanindex import SpanIndex
from .spans import Mention, PredictedQuote, Predictions

PARAGRAPHS_BEFORE, PARAGRAPHS_AFTER = 3, 1
CANDIDATES_BEFORE, CANDIDATES_AFTER = 32, 24  # per kind; PolNeAR train needs at most 22 and 19
RESOLVE_BEFORE, RESOLVE_AFTER = 40, 3  # earlier names, and names after the speaker in its sentence


def _nearest(spans: SpanIndex, q: PredictedQuote, lo: float, hi: float) -> list:
    """Spans starting in [lo, hi) outside the quote: the nearest ones before and after it, in text order."""
    return spans.starting_in(lo, q.start)[-CANDIDATES_BEFORE:] + spans.starting_in(q.end, hi)[:CANDIDATES_AFTER]


class Scorer(nn.Module):
    def __init__(self, n_features: int, hidden: int = 32):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_features, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, x):
        return self.net(x).squeeze(-1)


class LearnedLinker(nn.Module):
    name = "learned"

    def __init__(self):
        super().__init__()
        self.speaker = Scorer(len(SPEAKER_FEATURES))
        self.resolver = Scorer(len(RESOLVE_FEATURES))
        # Whether the training data had entity mentions to offer as candidates. A linker
        # fitted on quotes alone (PolNeAR) never saw them, so it does not get them later:
        # a tagger trained without entities predicts none worth choosing.
        self.register_buffer("uses_entities", torch.tensor(1.0))
        # Whether the speaker scorer was fitted on the tagger's predicted spans, and so
        # learned what the tagger's confidence in a candidate is worth.
        self.register_buffer("uses_scores", torch.tensor(0.0))

    # ---- candidates ---------------------------------------------------------------
    def speaker_candidates(self, ctx: Context, q: PredictedQuote, speakers: SpanIndex, names: SpanIndex):
        """(candidate, is a SPEAKER span, holds a name) near the quote, outside it: within
        the paragraph window, and at most the nearest CANDIDATES_BEFORE / _AFTER of each
        kind (never reached in news paragraphs; it keeps a one-paragraph book linear)."""
        p = ctx.paragraph(q.start)
        lo, hi = ctx.paragraph_offsets(p - PARAGRAPHS_BEFORE, p + PARAGRAPHS_AFTER)
        out = [(s, True, ctx.holds_any(s, names)) for s in _nearest(speakers, q, lo, hi)]
        out += [(n, False, True) for n in _nearest(names, q, lo, hi) if not ctx.inside_any(n, speakers)]
        return out

    def candidate_rows(self, ctx: Context, q: PredictedQuote, speakers: SpanIndex, names: SpanIndex, previous):
        """The quote's candidates and their feature rows; row 0 is "no speaker"."""
        cands = self.speaker_candidates(ctx, q, speakers, names)
        rows = [speaker_row(ctx, q, None, previous, False, False)] + \
               [speaker_row(ctx, q, c, previous, is_sp, has_name) for c, is_sp, has_name in cands]
        return cands, rows

    def resolve_candidates(self, ctx: Context, s: Mention, names: SpanIndex):
        lo, hi = ctx.sents.offsets(ctx.sents.index(s.start), ctx.sents.index(s.start))
        return names.ending_by(s.start, RESOLVE_BEFORE) + names.starting_in(max(lo, s.end), hi)[:RESOLVE_AFTER]

    def resolve_rows(self, ctx: Context, s: Mention, names: SpanIndex, spoken: Spoken):
        cands = self.resolve_candidates(ctx, s, names)
        return cands, [resolve_row(ctx, s, None, names, spoken)] + [resolve_row(ctx, s, e, names, spoken) for e in cands]

    # ---- linking ------------------------------------------------------------------
    @torch.no_grad()
    def forward(self, text: str, found: Predictions) -> list[PredictedQuote]:
        """The found quotes, linked (new objects: ``found`` is left as it is)."""
        from .cues import adjacent_cue

        self.eval()
        names = SpanIndex(e for e in found.entities if e.label in NAME_LABELS) if self.uses_entities else SpanIndex([])
        speakers = SpanIndex(found.speakers)
        quotes = found.unlinked_quotes()
        ctx = Context.of(text, found.cues, quotes, use_scores=bool(self.uses_scores))
        previous, previous_cue, spoken = None, None, Spoken(text)
        for q in quotes:
            cands, rows = self.candidate_rows(ctx, q, speakers, names, previous)
            scores = torch.softmax(self.speaker(torch.tensor(rows)), 0)
            best = int(scores.argmax())
            q.cue = ctx.own_cue(q)
            q.speaker_score = float(scores[best])
            if best:
                chosen, _, has_name = cands[best - 1]
                q.speaker = chosen
                if q.cue is None and previous is chosen:  # a continued quote keeps its attribution's cue
                    q.cue = previous_cue
                q.speaker_entity = None if has_name else self._resolve(ctx, chosen, names, spoken)
                previous, previous_cue = chosen, q.cue
                spoken.append(q.speaker_entity or chosen)
            q.cue = q.cue or adjacent_cue(q, ctx.cues, ctx.quotes, ctx.sents)
        return quotes

    def _resolve(self, ctx, s, names, spoken):
        cands, rows = self.resolve_rows(ctx, s, names, spoken)
        best = int(self.resolver(torch.tensor(rows)).argmax())
        return cands[best - 1] if best else None

    # ---- fitting, saving, loading -------------------------------------------------
    def fit(self, docs, predicted=None, epochs: int = 20, lr: float = 3e-3, seed: int = 13, log=None) -> dict:
        """Learn both scorers from gold documents.

        ``predicted``: optionally, the tagger's ``Predictions`` for the same documents. The
        speaker scorer then learns on those spans, labelled from the gold links. Use
        documents the tagger was not trained on. Without it, both learn on gold spans.
        """
        if predicted is not None and len(predicted) != len(docs):
            raise ValueError(f"{len(predicted)} predictions for {len(docs)} documents")
        # Fitted under its own seed, with the global random state restored afterwards: the
        # linker depends on data and seed alone, and fitting it leaves the tagger's training
        # (dropout, sampling) exactly as it would be without it.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            speaker_groups, resolve_groups = self._fit(docs, predicted, epochs, lr, log)
        return {"speaker_examples": len(speaker_groups), "resolve_examples": len(resolve_groups),
                "speaker_spans": "predicted" if predicted is not None else "gold"}

    def _fit(self, docs, predicted, epochs, lr, log):
        from .examples import resolution_and_speaker_groups, speaker_groups_from_predictions

        self.speaker = Scorer(len(SPEAKER_FEATURES))
        self.resolver = Scorer(len(RESOLVE_FEATURES))
        self.uses_entities.fill_(float(any("entities" in d.layers and d.entities for d in docs)))
        self.uses_scores.fill_(float(predicted is not None))
        speaker_groups, resolve_groups = [], []
        for i, doc in enumerate(docs):
            if "quotes" not in doc.layers:
                continue
            s_groups, r_groups = resolution_and_speaker_groups(self, doc, speaker_groups=predicted is None)
            if predicted is not None:
                s_groups = speaker_groups_from_predictions(self, doc, predicted[i])
            speaker_groups += s_groups
            resolve_groups += r_groups
        for scorer, groups in ((self.speaker, speaker_groups), (self.resolver, resolve_groups)):
            if groups:
                loss = train_scorer(scorer, groups, epochs, lr)
                if log:
                    log(f"linker: final loss {loss:.4f} on {len(groups)} examples")
        return speaker_groups, resolve_groups

    def save(self, directory) -> None:
        """Write ``linker.safetensors`` (weights and feature names) into a model directory."""
        from safetensors.torch import save

        from ..files import atomic_write

        names = json.dumps({"speaker": SPEAKER_FEATURES, "resolve": RESOLVE_FEATURES})
        tensors = {k: v.contiguous() for k, v in self.state_dict().items()}
        with atomic_write(Path(directory) / "linker.safetensors", "wb") as fh:
            fh.write(save(tensors, metadata={"features": names}))

    @classmethod
    def load(cls, directory):
        from safetensors import safe_open
        from safetensors.torch import load_file

        from ..modeldir import ModelDirError

        path = Path(directory) / "linker.safetensors"
        if not path.is_file():
            raise ModelDirError(f"{path}: missing; fit one with `newstag fit-linker` or use --linker rule")
        with safe_open(str(path), "pt") as fh:
            features = json.loads((fh.metadata() or {}).get("features", "null")) or UNNAMED_LAYOUT
        state = load_file(str(path))
        for scorer, names in (("speaker", SPEAKER_FEATURES), ("resolver", RESOLVE_FEATURES)):
            saved = features["speaker" if scorer == "speaker" else "resolve"]
            columns = _columns_for(saved, names)
            if columns is None:
                raise ModelDirError(f"{path}: fitted on other features than this newstag computes; "
                                    "refit it with `newstag fit-linker`")
            state[f"{scorer}.net.0.weight"] = state[f"{scorer}.net.0.weight"][:, columns]
        state.setdefault("uses_entities", torch.tensor(1.0))  # linkers saved before the flags existed
        state.setdefault("uses_scores", torch.tensor(0.0))
        linker = cls()
        linker.load_state_dict(state)
        return linker.eval()


def _reserved(n: int) -> list[str]:
    return [f"reserved_{i}" for i in range(1, n + 1)]


# Linkers saved before features had names: fixed-width rows whose "reserved" columns were
# always 0. Dropping those columns from the first layer gives the same scores.
UNNAMED_LAYOUT = {
    "speaker": [*SPEAKER_FEATURES[:SPEAKER_FEATURES.index("tagger_score") + 1], *_reserved(3),
                *SPEAKER_FEATURES[SPEAKER_FEATURES.index("tagger_score") + 1:]],
    "resolve": [*RESOLVE_FEATURES[:RESOLVE_FEATURES.index("opens_sentence") + 1], *_reserved(4),
                *RESOLVE_FEATURES[RESOLVE_FEATURES.index("opens_sentence") + 1:]],
}


def _columns_for(saved: list[str], names: tuple[str, ...]):
    """The saved columns, in today's order, when today's features are the saved ones less
    columns that were always 0; None when a scorer was fitted on other features."""
    dropped = set(saved) - set(names)
    if not set(names) <= set(saved) or any(not n.startswith("reserved_") for n in dropped):
        return None
    return [saved.index(n) for n in names]


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
