"""Tag inventories and constrained Viterbi decoding.

Decoding never emits an invalid BIO sequence: ``I-X`` may only follow ``B-X`` or
``I-X``. On top of these hard constraints, a model may carry a transition prior: the
log-probability of each tag following each other in its training labels, added to the
path score with a small weight. It costs no training and fixes what per-word softmax
scores get wrong most often: a multi-word span cut in two ("also | said" as two cues),
or a span's last word dropped. (A CRF layer would learn the same jointly; not built.)
"""
from __future__ import annotations

from functools import lru_cache
from typing import Optional

import numpy as np

QUOTE_ROLES = ("DIRECT", "INDIRECT", "MIXED", "CUE", "SPEAKER")
KIND_OF_ROLE = {"DIRECT": "direct", "INDIRECT": "indirect", "MIXED": "mixed"}
ROLE_OF_KIND = {v: k for k, v in KIND_OF_ROLE.items()}


def bio_tags(labels) -> list[str]:
    """``O`` then B-/I- for each label, in a fixed order: the layer's output classes."""
    tags = ["O"]
    for label in labels:
        tags += [f"B-{label}", f"I-{label}"]
    return tags


@lru_cache(maxsize=16)
def _transition_penalties(tags: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(-inf where a transition is forbidden, -inf where a start is) for a tag set, computed once."""
    return (np.where(allowed_transitions(list(tags)), 0.0, -np.inf),
            np.where(allowed_starts(list(tags)), 0.0, -np.inf))


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


def transition_log_probs(sequences, tags: list[str]) -> np.ndarray:
    """log P(next tag | tag) counted over tag sequences, add-one smoothed: (tags, tags)."""
    index = {t: i for i, t in enumerate(tags)}
    counts = np.ones((len(tags), len(tags)))
    for seq in sequences:
        for a, b in zip(seq, seq[1:]):
            counts[index[a], index[b]] += 1
    return np.log(counts / counts.sum(1, keepdims=True))


def viterbi(log_probs: np.ndarray, tags: list[str], prior: Optional[np.ndarray] = None) -> list[int]:
    """Best tag path under the BIO constraints; ``log_probs`` is (words, tags).

    ``prior``: weighted transition scores (from, to) added to every step, if any.
    """
    n_words, n_tags = log_probs.shape
    if n_words == 0:
        return []
    forbidden, start_penalty = _transition_penalties(tuple(tags))
    if prior is not None:
        forbidden = forbidden + prior
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
