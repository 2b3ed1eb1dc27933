"""Running a trained model over articles: ``Tagger``.

    from newstag import Tagger
    tagger = Tagger.load("models/newswire")
    doc = tagger("BRUSSELS (AFP) – ...")          # a Document, as in the JSONL format
    for doc in tagger.pipe(texts, batch_size=16): ...

Whole articles, never truncated: each is cut into overlapping windows, every word
takes its scores from its best-centred window, and each layer is decoded with
constrained Viterbi, so emitted spans are always well-formed.
"""
from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Iterable, Iterator, Union

import numpy as np
import torch

from .alignment import WordPieces, plan_windows, to_pieces, window_inputs
from .decoding import KIND_OF_ROLE, viterbi
from .document import LAYERS, Document, Entity, Quote, Span
from .linking import LinkedQuote, SpanPred, link
from .text import bio_to_spans


def pick_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda asked for, but torch sees no CUDA GPU")
    return torch.device(device)


def pad_batch(rows: list[dict], pad_id: int, device) -> dict:
    width = max(len(r["input_ids"]) for r in rows)

    def pad(key, value):
        return torch.tensor([r[key] + [value] * (width - len(r[key])) for r in rows], device=device)

    batch = {"input_ids": pad("input_ids", pad_id), "shape_ids": pad("shape_ids", 0)}
    batch["attention_mask"] = torch.tensor(
        [[1] * len(r["input_ids"]) + [0] * (width - len(r["input_ids"])) for r in rows], device=device)
    for key in ("entity_labels", "quote_labels", "word_index"):
        if key in rows[0]:
            batch[key] = pad(key, -100 if key != "word_index" else -1)
    return batch


@torch.no_grad()
def word_log_probs(model, tokenizer, pieces: list[WordPieces], batch_size: int, device,
                   vectors: bool = False) -> list[tuple[np.ndarray, ...]]:
    """Per article, (entity, quote) log-probabilities per word from best-centred windows;
    with ``vectors``, a third array: each word's representation as the heads read it (at its
    first subword, float16), for experiments that score spans from the encoder."""
    model.eval()
    s = model.settings
    out = [(np.full((len(p.words), len(s["entity_tags"])), -np.log(len(s["entity_tags"])), dtype=np.float32),
            np.full((len(p.words), len(s["quote_tags"])), -np.log(len(s["quote_tags"])), dtype=np.float32))
           for p in pieces]
    if vectors:
        width = model.entity_head.in_features
        out = [(e, q, np.zeros((len(q), width), dtype=np.float16)) for e, q in out]
    jobs = []  # (article, owned words, inputs)
    for a, p in enumerate(pieces):
        for win in plan_windows(p, s["max_length"], s["stride"]):
            if win.owned:
                jobs.append((a, set(win.owned), window_inputs(p, win, tokenizer.cls_token_id, tokenizer.sep_token_id)))
    jobs.sort(key=lambda j: len(j[2]["input_ids"]))  # similar lengths together: less padding
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()
    for i in range(0, len(jobs), batch_size):
        chunk = jobs[i:i + batch_size]
        batch = pad_batch([j[2] for j in chunk], tokenizer.pad_token_id or 0, device)
        with autocast:
            logits = model(batch["input_ids"], batch["attention_mask"], batch["shape_ids"])
        ent = torch.log_softmax(logits["entity_logits"].float(), -1).cpu().numpy()
        quo = torch.log_softmax(logits["quote_logits"].float(), -1).cpu().numpy()
        hidden = logits["hidden"].float().cpu().numpy() if vectors else None
        for row, (a, owned, inputs) in enumerate(chunk):
            for pos, w in enumerate(inputs["word_index"]):  # a word's first subword only
                if w in owned:
                    out[a][0][w] = ent[row, pos]
                    out[a][1][w] = quo[row, pos]
                    if vectors:
                        out[a][2][w] = hidden[row, pos]
    return out


def decode_layer(log_probs: np.ndarray, tags: list[str], prior=None) -> list[tuple[int, int, str, float]]:
    """Word spans (first, last_exclusive, label, mean probability) of the best valid path."""
    path = viterbi(log_probs, tags, prior)
    probs = np.exp(log_probs[np.arange(len(path)), path]) if path else np.zeros(0)
    return [(a, b, label, float(probs[a:b].mean())) for a, b, label in bio_to_spans([tags[i] for i in path])]


@dataclass
class RawSpans:
    """What the tagger found in one article, before linking: the linker's inputs, and
    the layers the tagger was trained on (the only ones it reports)."""
    quotes: list[LinkedQuote]
    cues: list[SpanPred]
    speakers: list[SpanPred]
    entities: list[SpanPred]
    layers: tuple[str, ...] = LAYERS


def decode_spans(pieces: WordPieces, ent_lp, quote_lp, model) -> RawSpans:
    """Spans of the layers the model learned; an untrained head's output is never decoded."""
    words = pieces.words
    found = RawSpans([], [], [], [], tuple(model.layers))
    if "entities" in model.layers:
        found.entities = [SpanPred(words[a][0], words[b - 1][1], score, label) for a, b, label, score
                          in decode_layer(ent_lp, model.entity_tags, model.transition_prior("entity"))]
    if "quotes" not in model.layers:
        return found
    for a, b, role, score in decode_layer(quote_lp, model.quote_tags, model.transition_prior("quote")):
        start, end = words[a][0], words[b - 1][1]
        if role in KIND_OF_ROLE:
            found.quotes.append(LinkedQuote(start, end, KIND_OF_ROLE[role], score))
        elif role == "CUE":
            found.cues.append(SpanPred(start, end, score, role))
        else:
            found.speakers.append(SpanPred(start, end, score, role))
    return found


def build_document(doc: Document, found: RawSpans, linker=link) -> Document:
    linker(doc.text, found.quotes, found.cues, found.speakers, found.entities)

    def span(p):
        return None if p is None else Span(start=p.start, end=p.end)

    return Document(
        id=doc.id, text=doc.text, meta=doc.meta, layers=list(found.layers),
        entities=[Entity(start=e.start, end=e.end, label=e.label, score=round(e.score, 4)) for e in found.entities],
        quotes=[Quote(start=q.start, end=q.end, kind=q.kind, score=round(q.score, 4), cue=span(q.cue),
                      speaker=span(q.speaker), speaker_entity=span(q.speaker_entity)) for q in found.quotes],
    )


def tag_documents(model, tokenizer, docs: list[Document], batch_size: int, device) -> list[RawSpans]:
    """The tagger's spans for each document, not yet linked."""
    pieces = [to_pieces(tokenizer, d.text) for d in docs]
    scores = word_log_probs(model, tokenizer, pieces, batch_size, device)
    return [decode_spans(p, e, q, model) for p, (e, q) in zip(pieces, scores)]


def predict_documents(model, tokenizer, docs: list[Document], batch_size: int, device, linker=link) -> list[Document]:
    found = tag_documents(model, tokenizer, docs, batch_size, device)
    return [build_document(d, f, linker) for d, f in zip(docs, found)]


def load_linker(name: str, directory=None):
    """"rule", or "learned" (the scorer saved in the model directory)."""
    if name == "rule":
        return link
    if name == "learned":
        from .learned_linker import LearnedLinker

        if directory is None or not (Path(directory) / "linker.safetensors").is_file():
            raise FileNotFoundError(f"{directory}: no linker.safetensors (this model was trained with the rule linker)")
        return LearnedLinker.load(Path(directory))
    raise ValueError(f"unknown linker {name!r}: rule or learned")


class Tagger:
    """A loaded model, callable on text or documents."""

    def __init__(self, model, tokenizer, config: dict, device: str = "auto", linker=link):
        self.device = pick_device(device)
        self.model = model.to(self.device).eval()
        self.tokenizer = tokenizer
        self.config = config
        self.linker = linker

    @classmethod
    def load(cls, path, device: str = "auto", linker: str | None = None) -> "Tagger":
        """``linker``: "rule" or "learned"; by default the one the model was trained with."""
        from .model import NewstagModel

        model, tokenizer, config = NewstagModel.from_pretrained(path)
        return cls(model, tokenizer, config, device, load_linker(linker or config.get("linker", "rule"), path))

    def __call__(self, text: Union[str, Document], doc_id: str = "doc") -> Document:
        return next(self.pipe([text], batch_size=1, ids=[doc_id]))

    def spans(self, docs: list[Document], batch_size: int = 8) -> list[RawSpans]:
        """The tagger's own spans (quotes, cues, speakers, entities), before linking."""
        out = []
        for i in range(0, len(docs), batch_size):
            out += tag_documents(self.model, self.tokenizer, docs[i:i + batch_size], 2 * batch_size, self.device)
        return out

    def pipe(self, items: Iterable[Union[str, Document]], batch_size: int = 8, ids=None) -> Iterator[Document]:
        """Documents in input order; articles are batched ``batch_size`` at a time."""
        items, ids = iter(items), iter(ids) if ids is not None else None
        n = 0
        while True:
            chunk = list(islice(items, batch_size))
            if not chunk:
                return
            docs = []
            for item in chunk:
                doc_id = next(ids) if ids is not None else f"doc-{n}"
                docs.append(item if isinstance(item, Document) else Document(id=doc_id, text=item))
                n += 1
            yield from predict_documents(self.model, self.tokenizer, docs, 2 * batch_size, self.device, self.linker)
