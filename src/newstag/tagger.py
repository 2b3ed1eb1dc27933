"""Running a trained model over articles: ``Tagger``.

    from newstag import Tagger
    tagger = Tagger.load("models/newswire")
    doc = tagger("BRUSSELS (AFP) – ...")          # a Document, as in the JSONL format
    for doc in tagger.pipe(texts, batch_size=16): ...

Three stages, as in a Hugging Face pipeline:

* **preprocess**: each article → words, subwords, and overlapping windows of the
  model's length (whole articles, never truncated);
* **forward**: windows in, per-word log-probabilities per layer out. Windows of all the
  articles in hand are sorted by length and run ``window_batch_size`` at a time; every
  word takes its scores from the window where it sits furthest from an edge. This is
  the seam another backend plugs into (``TorchBackend`` is the one here);
* **postprocess**: constrained Viterbi per layer the model learned (spans are always
  well-formed), then the linker, then a Document.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import islice
from typing import Iterable, Iterator, Union

import numpy as np
import torch

from .alignment import WordPieces, collate, plan_windows, to_pieces, window_inputs
from .document import Document
from .labels import KIND_OF_ROLE
from .linking import Mention, PredictedQuote, Predictions, load_linker
from .runtime import autocast_for, pick_device
from .text import has_letters_or_digits, lone_surrogate

# "onnx" (the fp32 graph) was a backend until it measured no faster than torch
# (BENCHMARKS.md, "Speed"); the export still writes it, as the int8 graph's source.
BACKENDS = ("torch", "onnx-int8")
# Windows per forward pass: on a CPU enough to fill the cores without padding waste; a
# GPU (bf16 under autocast) is only busy with larger batches.
WINDOW_BATCH_SIZE = {"cpu": 16, "cuda": 64}


@dataclass
class Window:
    article: int  # index of the article among those in hand
    inputs: dict  # input_ids, shape_ids, word_index
    positions: np.ndarray  # the window positions whose scores are kept ...
    words: np.ndarray  # ... and the words they score (the words this window owns)


class TorchBackend:
    """The model's forward pass in PyTorch: a batch of windows → log-probabilities per position."""

    def __init__(self, model, device):
        self.model, self.device = model, device

    @torch.inference_mode()
    def __call__(self, batch: dict) -> dict[str, np.ndarray]:
        with autocast_for(self.device):
            out = self.model(batch["input_ids"], batch["attention_mask"], batch["shape_ids"])
        return {layer: torch.log_softmax(logits.float(), -1).cpu().numpy() for layer, logits in out.logits.items()}


class Tagger:
    """A loaded model (and its linker), callable on text or documents."""

    def __init__(self, model, tokenizer, device: str = "auto", linker=None, window_batch_size: int | None = None,
                 calibration: dict | None = None, backend=None):
        self.calibration = calibration or {}  # kind -> calibration.PlattMap; {}: raw scores
        self.device = pick_device(device)
        # The network (NewstagModel), or for a backend that runs an exported graph only what
        # decoding needs of it (model.TagDecoder): spec, tags, layers, decode.
        self.model = model.to(self.device).eval() if isinstance(model, torch.nn.Module) else model
        self.tokenizer = tokenizer
        self.linker = linker if linker is not None else load_linker("rule")
        self.window_batch_size = window_batch_size or WINDOW_BATCH_SIZE.get(self.device.type, 16)
        self.backend = backend or TorchBackend(self.model, self.device)

    @classmethod
    def load(cls, path, device: str = "auto", linker: str | None = None, calibrated: bool = True,
             backend: str = "torch", threads: int | None = None) -> "Tagger":
        """``linker``: "rule" or "learned"; by default the one the model was trained with.
        ``calibrated``: map scores with the calibration stored in the model directory for
        this backend, if any. ``backend``: "torch", or "onnx-int8" for the int8 graph
        ``newstag export`` wrote (onnx_backend.py; CPU only)."""
        from . import calibration
        from .model import NewstagModel, TagDecoder
        from .modeldir import read_calibration

        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
        runner = None
        if backend == "torch":
            model, tokenizer = NewstagModel.from_pretrained(path)
        else:  # the graph runs the network: it is never built here (a cold start seconds shorter)
            from .onnx_backend import OnnxBackend, checked_graph

            model, tokenizer = TagDecoder.from_pretrained(path)
            runner, device = OnnxBackend(checked_graph(path, backend), threads), "cpu"
        maps = calibration.from_json(read_calibration(path, backend)) if calibrated else {}
        return cls(model, tokenizer, device, load_linker(linker or model.spec.model.linker, path), calibration=maps,
                   backend=runner)

    @property
    def spec(self):
        return self.model.spec

    # ---- the three stages ---------------------------------------------------------
    def preprocess(self, docs: list[Document]) -> tuple[list[WordPieces], list[Window]]:
        pieces = [to_pieces(self.tokenizer, d.text) for d in docs]
        windows = []
        for a, p in enumerate(pieces):
            for win in plan_windows(p, self.spec.window_length, self.spec.model.stride):
                if win.owned:
                    inputs = window_inputs(p, win, self.tokenizer.cls_token_id, self.tokenizer.sep_token_id)
                    owned = set(win.owned)
                    kept = [(pos, w) for pos, w in enumerate(inputs["word_index"]) if w in owned]  # first subwords
                    positions, words = (np.array(column, dtype=np.int64) for column in zip(*kept))
                    windows.append(Window(a, inputs, positions, words))
        return pieces, windows

    def forward(self, pieces: list[WordPieces], windows: list[Window]) -> list[dict[str, np.ndarray]]:
        """Per article, per layer, (words, tags) log-probabilities from best-centred windows."""
        out = [{layer: np.full((len(p.words), len(tags)), -np.log(len(tags)), dtype=np.float32)
                for layer, tags in self.model.tags.items()} for p in pieces]
        windows = sorted(windows, key=lambda w: len(w.inputs["input_ids"]))  # similar lengths together: less padding
        for i in range(0, len(windows), self.window_batch_size):
            chunk = windows[i:i + self.window_batch_size]
            scores = self.backend(collate([w.inputs for w in chunk], self.tokenizer.pad_token_id or 0, self.device))
            for row, window in enumerate(chunk):
                for layer, layer_scores in scores.items():
                    out[window.article][layer][window.words] = layer_scores[row, window.positions]
        return out

    def decode(self, pieces: list[WordPieces], scores: list[dict[str, np.ndarray]]) -> list[Predictions]:
        """Each article's spans of the layers the model learned (an untrained head's output
        is never decoded), all articles decoded together layer by layer."""
        found = [Predictions(layers=tuple(self.model.layers)) for _ in pieces]
        for layer in self.model.layers:
            spans = self.model.decode(layer, [s[layer] for s in scores])
            for article, p, article_spans in zip(found, pieces, spans):
                for a, b, label, score in article_spans:
                    start, end = p.words[a][0], p.words[b - 1][1]
                    if layer == "entities":
                        article.entities.append(Mention(start, end, score, label))
                    elif label in KIND_OF_ROLE:
                        if not has_letters_or_digits(p.shapes[a:b]):
                            continue  # a content of marks alone (a lone ”) quotes nothing
                        article.quotes.append(PredictedQuote(start, end, KIND_OF_ROLE[label], score))
                    else:
                        (article.cues if label == "CUE" else article.speakers).append(Mention(start, end, score, label))
        return found

    def postprocess(self, doc: Document, found: Predictions) -> Document:
        """Link, and write the document; scores through the calibration maps when there are any."""
        out = found.with_quotes(self.linker(doc.text, found)).to_document(doc)
        if self.calibration:
            from .calibration import apply

            out = apply(out, self.calibration)
        return out

    # ---- the calls ----------------------------------------------------------------
    def spans(self, docs: list[Document]) -> list[Predictions]:
        """The tagger's own spans (quotes, cues, speakers, entities) of each document, before linking."""
        pieces, windows = self.preprocess(docs)
        return self.decode(pieces, self.forward(pieces, windows))

    def __call__(self, text: Union[str, Document], doc_id: str = "doc") -> Document:
        return next(self.pipe([text], batch_size=1, ids=[doc_id]))

    def pipe(self, items: Iterable[Union[str, Document]], batch_size: int = 8, ids=None) -> Iterator[Document]:
        """Documents in input order; articles are read ``batch_size`` at a time."""
        if isinstance(items, (str, Document)):
            raise TypeError("pipe() takes an iterable of texts or Documents; for one text call the tagger: tagger(text)")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        items, ids = iter(items), iter(ids) if ids is not None else None
        n = 0
        while True:
            chunk = list(islice(items, batch_size))
            if not chunk:
                return
            docs = []
            for item in chunk:
                docs.append(as_document(item, next(ids) if ids is not None else f"doc-{n}", n))
                n += 1
            for doc, found in zip(docs, self.spans(docs)):
                yield self.postprocess(doc, found)


def as_document(item, doc_id: str, index: int) -> Document:
    """An input item as a Document; a TypeError or ValueError names the item that is not one."""
    if isinstance(item, Document):
        text = item.text
    elif isinstance(item, str):
        text, item = item, None
    else:
        raise TypeError(f"item {index}: expected a text or a Document, got {type(item).__name__}")
    where = lone_surrogate(text)
    if where:
        raise ValueError(f"item {index}: a lone surrogate {where}")
    return item if item is not None else Document(id=doc_id, text=text)
