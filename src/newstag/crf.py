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
    n_words, n_tags = log_probs.shape
    if n_words == 0:
        return []
    forbidden, start_penalty = _penalties(tuple(tags))
    if transitions is not None:
        forbidden = forbidden + transitions
    score = log_probs[0] + start_penalty
    back = np.zeros((n_words, n_tags), dtype=np.int64)
    for i in range(1, n_words):
        cand = score[:, None] + forbidden  # (from, to)
        back[i] = cand.argmax(0)
        score = cand.max(0) + log_probs[i]
    path = [int(score.argmax())]
    for i in range(n_words - 1, 0, -1):
        path.append(int(back[i, path[-1]]))
    return path[::-1]


def span_marginals(log_probs: np.ndarray, tags: list[str], transitions: Optional[np.ndarray],
                   spans: list[tuple[int, int, str]]) -> list[float]:
    """P(exactly this span with this label) for each word span (first, last_exclusive,
    label), under the chain that ``viterbi`` decodes (same constraints and transitions):
    B-label on the first word, I-label on the rest, and the next word not I-label.

    Forward-backward in log space: alpha[i, t] scores every path prefix ending in tag t at
    word i, beta[i, t] every suffix after it; a span's paths are those through its tags.
    """
    n_words = len(log_probs)
    if not spans:
        return []
    forbidden, start_penalty = _penalties(tuple(tags))
    pair = forbidden + (transitions if transitions is not None else 0.0)
    unary = log_probs.astype(np.float64)
    alpha = np.empty_like(unary)
    beta = np.zeros_like(unary)
    alpha[0] = unary[0] + start_penalty
    for i in range(1, n_words):
        alpha[i] = _logsumexp(alpha[i - 1][:, None] + pair, axis=0) + unary[i]
    for i in range(n_words - 2, -1, -1):
        beta[i] = _logsumexp(pair + (unary[i + 1] + beta[i + 1])[None, :], axis=1)
    log_z = _logsumexp(alpha[-1], axis=0)
    index = {t: k for k, t in enumerate(tags)}
    out = []
    for a, b, label in spans:
        first, inside = index[f"B-{label}"], index[f"I-{label}"]
        score = alpha[a, first] + sum(pair[first if i == a + 1 else inside, inside] + unary[i, inside] for i in range(a + 1, b))
        if b < n_words:
            last = first if b == a + 1 else inside
            after = pair[last] + unary[b] + beta[b]
            after[inside] = -np.inf  # the span ends here
            score += _logsumexp(after, axis=0)
        out.append(float(np.exp(min(score - log_z, 0.0))))
    return out


def _logsumexp(x: np.ndarray, axis: int) -> np.ndarray:
    """log(sum(exp(x))) along an axis, -inf where every term is -inf."""
    top = np.max(x, axis=axis, keepdims=True)
    safe = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        return np.squeeze(safe, axis=axis) + np.log(np.sum(np.exp(x - safe), axis=axis))


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
