"""Does the speaker scorer gain from reading the encoder's representations? (issue 5)

    python benchmarks/linker_representations.py --model DIR --train TRAIN --eval EVAL [--holdout] [--dims 32,64] [--seeds 13,14]

The learned linker scores each (quote, candidate) pair from hand-made features:
distances, order, cue adjacency, the tagger's confidence, the speaker chain. The issue
suggests a span-pair scorer over the shared encoder's representations. This measures
that idea without joint training: the trained tagger (frozen) gives every word the
vector its heads read; PCA fitted on the train words keeps ``dims`` of them; the
candidate's mean vector and the vector of its quote's cue (or the quote's first word)
enter the scorer through a low-rank bilinear term and a linear term, beside the hand
features' MLP. Both linkers are fitted on the tagger's spans of the same train articles
(labelled from the gold links, as ``model.linker_spans: predicted`` does), with the same
seeds, and scored on the same spans, so the difference is the representations alone.

``--holdout``: fit on the first five sixths of --train and score on the rest, to choose
without looking at the eval split.
"""
from __future__ import annotations

import argparse
import bisect
import copy
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from newstag.alignment import to_pieces  # noqa: E402
from newstag.document import read_jsonl  # noqa: E402
from newstag.evaluation import evaluate  # noqa: E402
from newstag.inference import Tagger, build_document, decode_spans, word_log_probs  # noqa: E402
from newstag.learned_linker import SPEAKER_FEATURES, LearnedLinker, Scorer, own_cue, speaker_features  # noqa: E402
from newstag.linking import link  # noqa: E402


class WordVectors:
    """One article's reduced word vectors, looked up by character span."""

    def __init__(self, words, vectors: np.ndarray):
        self.starts = [w[0] for w in words]
        self.ends = [w[1] for w in words]
        self.vectors = vectors

    def mean(self, start: int, end: int) -> list[float]:
        first, last = bisect.bisect_right(self.ends, start), bisect.bisect_left(self.starts, end)
        if last <= first:
            return [0.0] * self.vectors.shape[1]
        return self.vectors[first:last].mean(0).tolist()


class PairScorer(nn.Module):
    """The hand features' MLP plus candidate × cue (bilinear, low rank) and candidate (linear)."""

    def __init__(self, dims: int, rank: int = 16, dropout: float = 0.2):
        super().__init__()
        self.dims = dims
        self.hand = Scorer(SPEAKER_FEATURES)
        self.candidate, self.cue, self.alone = nn.Linear(dims, rank), nn.Linear(dims, rank), nn.Linear(dims, 1)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        hand, cand, cue = x[..., :SPEAKER_FEATURES], x[..., SPEAKER_FEATURES:-self.dims], x[..., -self.dims:]
        cand, cue = self.dropout(cand), self.dropout(cue)
        return self.hand(hand) + (self.candidate(cand) * self.cue(cue)).sum(-1) + self.alone(cand).squeeze(-1)


class RepresentationLinker(LearnedLinker):
    """The learned linker with each row widened by the candidate's and the cue's vectors."""

    def __init__(self, vectors_by_text: dict[str, WordVectors], dims: int):
        self.dims = dims
        super().__init__()
        self.vectors_by_text = vectors_by_text

    def new_speaker_scorer(self) -> nn.Module:
        return PairScorer(self.dims)

    def candidate_rows(self, ctx, q, speakers, names, previous):
        vectors = self.vectors_by_text[ctx.text]
        cue = own_cue(ctx, q)
        cue_vector = vectors.mean(cue.start, cue.end) if cue else vectors.mean(q.start, q.start + 1)
        cands = self.speaker_candidates(ctx, q, speakers, names)
        rows = [speaker_features(ctx, q, None, previous, False, False) + [0.0] * self.dims + cue_vector]
        rows += [speaker_features(ctx, q, c, previous, is_sp, has_name) + vectors.mean(c.start, c.end) + cue_vector
                 for c, is_sp, has_name in cands]
        return cands, rows


def tag_with_vectors(tagger: Tagger, docs, batch_size: int = 16):
    """The tagger's spans of each article and its words' vectors (as the heads read them)."""
    spans, vectors = [], []
    for i in range(0, len(docs), batch_size):
        pieces = [to_pieces(tagger.tokenizer, d.text) for d in docs[i:i + batch_size]]
        for p, (ent, quo, vec) in zip(pieces, word_log_probs(tagger.model, tagger.tokenizer, pieces, batch_size,
                                                             tagger.device, vectors=True)):
            spans.append(decode_spans(p, ent, quo, tagger.model))
            vectors.append((p.words, vec))
    return spans, vectors


def pca(vectors, dims: int, sample: int = 50_000, seed: int = 0):
    """(mean, projection) whitening the top ``dims`` components of the train words' vectors."""
    words = np.concatenate([v for _, v in vectors]).astype(np.float32)
    mean = words.mean(0)
    rows = np.random.default_rng(seed).choice(len(words), min(len(words), sample), replace=False)
    _, singular, components = np.linalg.svd(words[rows] - mean, full_matrices=False)
    return mean, components[:dims].T / (singular[:dims] / np.sqrt(len(rows)))


def reduced(vectors, mean, projection, docs) -> dict[str, WordVectors]:
    return {d.text: WordVectors(words, (v.astype(np.float32) - mean) @ projection)
            for d, (words, v) in zip(docs, vectors)}


def attribution(gold, spans, linker) -> dict:
    q = evaluate(gold, [build_document(d, copy.deepcopy(f), linker) for d, f in zip(gold, spans)])["quotes"]
    return {"exact": q["attribution_exact"]["f1"], "overlap": q["attribution_overlap"]["f1"],
            "accuracy": q["attribution_accuracy"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--train", type=Path, required=True)
    ap.add_argument("--eval", type=Path, required=True)
    ap.add_argument("--holdout", action="store_true", help="score on the last sixth of --train instead of --eval")
    ap.add_argument("--dims", default="32,64", help="PCA sizes to try, comma-separated")
    ap.add_argument("--seeds", default="13,14")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    with_quotes = lambda path: [d for d in read_jsonl(path) if "quotes" in d.layers]  # noqa: E731
    train, evaluation = with_quotes(args.train), with_quotes(args.eval)
    tagger = Tagger.load(args.model, device=args.device)
    started = time.perf_counter()
    train_spans, train_vectors = tag_with_vectors(tagger, train)
    if args.holdout:
        cut = len(train) * 5 // 6
        evaluation, eval_spans, eval_vectors = train[cut:], train_spans[cut:], train_vectors[cut:]
        train, train_spans, train_vectors = train[:cut], train_spans[:cut], train_vectors[:cut]
    else:
        eval_spans, eval_vectors = tag_with_vectors(tagger, evaluation)
    result = {"model": str(args.model), "train": str(args.train), "eval": "holdout" if args.holdout else str(args.eval),
              "tagging_seconds": round(time.perf_counter() - started, 1), "rule": attribution(evaluation, eval_spans, link)}
    vectors_by_dims = {}  # the projection depends on the train words alone, not on the seed
    for dims in map(int, args.dims.split(",")):
        mean, projection = pca(train_vectors, dims)
        vectors_by_dims[dims] = reduced(train_vectors, mean, projection, train) | \
            reduced(eval_vectors, mean, projection, evaluation)
    for seed in map(int, args.seeds.split(",")):
        plain = LearnedLinker()
        plain.fit(train, predicted=train_spans, seed=seed)
        result[f"learned seed {seed}"] = attribution(evaluation, eval_spans, plain)
        for dims, vectors in vectors_by_dims.items():
            linker = RepresentationLinker(vectors, dims)
            linker.fit(train, predicted=train_spans, seed=seed)
            result[f"representations {dims} seed {seed}"] = attribution(evaluation, eval_spans, linker)
        print(json.dumps(result), flush=True)
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
