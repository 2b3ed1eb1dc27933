"""Tag sequences: BIO tag sets, their hard constraints, the counted transition prior,
the linear-chain CRF loss, Viterbi decoding and span marginals, side by side.

A layer's tags are ``O`` then ``B-X``/``I-X`` per label. Decoding never emits an
invalid sequence (``I-X`` only after ``B-X`` or ``I-X``). On top of that hard
constraint, decoding adds transition scores (from, to): a CRF head's learned ones, or
for a head trained without a CRF the log-probability of each tag following each other
in the training labels (counted, add-one smoothed) times a small weight. A CRF head
starts from that weighted count and refines it. The CRF has no start or end scores:
windows overlap, so a window may begin or end inside a span.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Optional

import numpy as np
import torch
from torch import nn

IGNORE = -100  # the label of a position that is not a labelled word


def bio_tags(labels) -> list[str]:
    """``O`` then B-/I- for each label, in a fixed order: the layer's output classes."""
    tags = ["O"]
    for label in labels:
        tags += [f"B-{label}", f"I-{label}"]
    return tags


def allowed_transitions(tags: list[str]) -> np.ndarray:
    """allowed[i, j]: may tag j follow tag i?"""
    n = len(tags)
    allowed = np.ones((n, n), dtype=bool)
    for j, t in enumerate(tags):
        if t.startswith("I-"):
            for i, prev in enumerate(tags):
                allowed[i, j] = prev[2:] == t[2:] and prev != "O"
    return allowed


def allowed_starts(tags: list[str]) -> np.ndarray:
    return np.array([not t.startswith("I-") for t in tags])


@lru_cache(maxsize=16)
def _penalties(tags: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(-inf where a transition is forbidden, -inf where a start is) for a tag set, computed once."""
    return (np.where(allowed_transitions(list(tags)), 0.0, -np.inf),
            np.where(allowed_starts(list(tags)), 0.0, -np.inf))


def transition_log_probs(sequences, tags: list[str]) -> np.ndarray:
    """log P(next tag | tag) counted over tag sequences, add-one smoothed: (tags, tags)."""
    index = {t: i for i, t in enumerate(tags)}
    counts = np.ones((len(tags), len(tags)))
    for seq in sequences:
        for a, b in zip(seq, seq[1:]):
            counts[index[a], index[b]] += 1
    return np.log(counts / counts.sum(1, keepdims=True))


def viterbi(log_probs: np.ndarray, tags: list[str], transitions: Optional[np.ndarray] = None) -> list[int]:
    """Best tag path under the BIO constraints; ``log_probs`` is (words, tags).

    ``transitions``: scores (from, to) added to every step, if any.
    """
    return Chains([log_probs], tags, transitions).viterbi()[0]


def span_marginals(log_probs: np.ndarray, tags: list[str], transitions: Optional[np.ndarray],
                   spans: list[tuple[int, int, str]]) -> list[float]:
    """P(exactly this span with this label) for each word span (first, last_exclusive,
    label), under the chain that ``viterbi`` decodes: see ``Chains.span_marginals``."""
    return Chains([log_probs], tags, transitions).span_marginals([spans])[0]


class Chains:
    """Several sequences of one tag set, padded into one array and decoded together.

    Decoding walks the words one step at a time; a step costs the same few array
    operations for one sequence as for a batch of them, so the articles of a batch are
    decoded in as many Python steps as the longest has words, not as all have together.
    A sequence's padding never changes its result: past its end its Viterbi scores are
    carried unchanged and its forward-backward terms are never read.
    """

    def __init__(self, log_probs: list[np.ndarray], tags: list[str], transitions: Optional[np.ndarray] = None):
        self.tags = tags
        self.lengths = np.array([len(lp) for lp in log_probs], dtype=np.int64)
        n_tags, longest = len(tags), int(self.lengths.max(initial=0))
        self.unary = np.zeros((len(log_probs), longest, n_tags))
        for k, lp in enumerate(log_probs):
            self.unary[k, :len(lp)] = lp
        forbidden, self.start = _penalties(tuple(tags))
        self.pair = forbidden + (transitions if transitions is not None else 0.0)  # (from, to), -inf: forbidden

    def viterbi(self) -> list[list[int]]:
        """Each sequence's best tag path under the constraints and transitions."""
        n_seq, longest, n_tags = self.unary.shape
        if longest == 0:
            return [[] for _ in range(n_seq)]
        score = self.unary[:, 0] + self.start
        back = np.broadcast_to(np.arange(n_tags), (n_seq, longest, n_tags)).copy()  # padding: stay on the tag
        for i in range(1, longest):
            cand = score[:, :, None] + self.pair  # (sequence, from, to)
            live = (i < self.lengths)[:, None]
            back[:, i] = np.where(live, cand.argmax(1), back[:, i])
            score = np.where(live, cand.max(1) + self.unary[:, i], score)
        path = np.empty((n_seq, longest), dtype=np.int64)
        path[:, -1] = score.argmax(1)
        rows = np.arange(n_seq)
        for i in range(longest - 1, 0, -1):
            path[:, i - 1] = back[rows, i, path[:, i]]
        return [path[k, :n].tolist() for k, n in enumerate(self.lengths)]

    def span_marginals(self, spans: list[list[tuple[int, int, str]]]) -> list[list[float]]:
        """P(exactly this span with this label) for each sequence's word spans (first,
        last_exclusive, label): B-label on the first word, I-label on the rest, and the
        next word not I-label.

        Scaled forward-backward (Rabiner's): each step's forward vector is normalised to
        sum 1 and the log of the normaliser kept, so nothing underflows and no step needs
        a log-sum-exp. alpha[i, t] scores every path prefix ending in tag t at word i,
        beta[i, t] every suffix after it; a span's paths are those through its tags.
        """
        if not any(spans):
            return [[] for _ in spans]
        alpha, beta, log_norm, shift, emit = self._forward_backward()
        cum = np.cumsum(log_norm, axis=1)  # log of the forward normalisers so far
        index = {t: k for k, t in enumerate(self.tags)}
        out = []
        for k, seq_spans in enumerate(spans):
            n, scores = int(self.lengths[k]), []
            for a, b, label in seq_spans:
                first, inside = index[f"B-{label}"], index[f"I-{label}"]
                log_p = np.log(alpha[k, a, first])
                if b > a + 1:  # the rest of the span: B -> I, then I -> I
                    log_p += self.pair[first, inside] + (b - a - 2) * self.pair[inside, inside]
                    log_p += self.unary[k, a + 1:b, inside].sum()
                if b < n:  # the next word is anything but I-label
                    last = first if b == a + 1 else inside
                    after = np.exp(self.pair[last]) * emit[k, b] * beta[k, b]
                    after[inside] = 0.0
                    log_p += np.log(after.sum()) + shift[k, b] - (cum[k, b] - cum[k, a])
                else:
                    log_p -= cum[k, n - 1] - cum[k, a]
                scores.append(float(np.exp(min(log_p, 0.0))))
            out.append(scores)
        return out

    def _forward_backward(self):
        """Scaled forward and backward vectors, (sequence, word, tag) each, and per word the
        log of the forward normaliser and the emission shift it includes."""
        n_seq, longest, n_tags = self.unary.shape
        shift = self.unary.max(2)  # emissions are exp(unary - shift): at most 1, never all 0
        emit = np.exp(self.unary - shift[:, :, None])
        move = np.exp(self.pair)  # 0 where forbidden
        alpha = np.empty_like(emit)
        norm = np.empty((n_seq, longest))
        step = np.exp(self.start) * emit[:, 0]
        for i in range(longest):
            if i:
                step = (alpha[:, i - 1] @ move) * emit[:, i]
            norm[:, i] = step.sum(1)
            alpha[:, i] = step / norm[:, i, None]
        beta = np.ones_like(emit)
        last = (self.lengths - 1)[:, None]
        for i in range(longest - 2, -1, -1):
            back = ((emit[:, i + 1] * beta[:, i + 1]) @ move.T) / norm[:, i + 1, None]
            beta[:, i] = np.where(i < last, back, 1.0)
        return alpha, beta, np.log(norm) + shift, shift, emit


def masked_loss(logits, labels):
    """Cross-entropy over labelled positions; zero (with a graph) when none are labelled."""
    mask = labels != IGNORE
    if not mask.any():
        return logits.sum() * 0.0
    return nn.functional.cross_entropy(logits[mask].float(), labels[mask])


def crf_loss(emissions, labels, transitions):
    """Linear-chain CRF negative log-likelihood per labelled word.

    ``emissions`` (batch, positions, tags); ``labels`` (batch, positions) with IGNORE where
    a position is not a labelled word (later subwords, special tokens, a layer the
    document lacks); ``transitions`` (from, to). Each window's labelled words form its
    sequence.
    """
    mask = labels != IGNORE
    rows = mask.any(1)
    if not rows.any():
        return emissions.sum() * 0.0
    emissions, labels, mask = emissions[rows].float(), labels[rows], mask[rows]
    lengths = mask.sum(1)
    n = int(lengths.max())
    # The labelled positions of each row, moved to the front in order.
    order = torch.argsort((~mask).to(torch.int8), dim=1, stable=True)[:, :n]
    em = emissions.gather(1, order.unsqueeze(-1).expand(-1, -1, emissions.size(-1)))
    present = torch.arange(n, device=labels.device)[None] < lengths[:, None]
    tags = labels.gather(1, order).masked_fill(~present, 0)
    trans = transitions.float()
    gold = (em.gather(2, tags.unsqueeze(-1)).squeeze(-1) * present).sum(1)
    gold = gold + (trans[tags[:, :-1], tags[:, 1:]] * present[:, 1:]).sum(1)
    alpha = em[:, 0]
    for i in range(1, n):
        step = torch.logsumexp(alpha.unsqueeze(2) + trans, dim=1) + em[:, i]
        alpha = torch.where(present[:, i:i + 1], step, alpha)
    return (torch.logsumexp(alpha, 1) - gold).sum() / lengths.sum()


class CRF(nn.Module):
    """A layer's learned transition scores (from, to), trained by ``crf_loss`` and decoded
    by ``viterbi`` under the BIO constraints."""

    def __init__(self, n_tags: int):
        super().__init__()
        self.transitions = nn.Parameter(torch.zeros(n_tags, n_tags))

    def forward(self, emissions, labels):
        return crf_loss(emissions, labels, self.transitions)

    def scores(self) -> np.ndarray:
        return self.transitions.detach().float().cpu().numpy()
