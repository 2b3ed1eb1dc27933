"""Quote → speaker linking: give every quote its cue, its speaker and, for a pronoun or
description, the name it refers to.

A linker is anything with this shape, found by name in ``LINKERS``:

    linker(text, predictions) -> list[PredictedQuote]   # new objects; predictions untouched
    linker.fit(docs, predicted=None, seed=13) -> dict    # learn from gold links (rules: nothing)
    linker.save(directory); Linker.load(directory)      # beside the tagger (rules: nothing)

``rule`` (rules.py) needs no training; ``learned`` (learned.py) fits two small scorers
on gold links. Both take a quote's cue from cues.py.
"""
from __future__ import annotations

import importlib
from typing import Protocol

from .spans import Mention, PredictedQuote, Predictions

__all__ = ["LINKERS", "Linker", "Mention", "PredictedQuote", "Predictions", "linker_class", "load_linker", "relink"]


class Linker(Protocol):
    name: str

    def __call__(self, text: str, found: Predictions) -> list[PredictedQuote]: ...

    def fit(self, docs, predicted=None, seed: int = 13, log=None) -> dict: ...

    def save(self, directory) -> None: ...


# name -> (module, class), imported when asked for: the rule linker does not need torch.
LINKERS = {"rule": ("rules", "RuleLinker"), "learned": ("learned", "LearnedLinker")}


def linker_class(name: str):
    """The linker registered under ``name``."""
    if name not in LINKERS:
        raise ValueError(f"unknown linker {name!r}; one of {', '.join(LINKERS)}")
    module, cls = LINKERS[name]
    return getattr(importlib.import_module(f".{module}", __name__), cls)


def load_linker(name: str, directory=None) -> Linker:
    """A linker by name, with what it learned from a model directory (if it learns)."""
    return linker_class(name).load(directory)


def relink(doc, linker: Linker):
    """A copy of ``doc`` whose quotes are linked afresh from its own spans (links removed).

    Measures a linker alone: given gold spans, any attribution error is the linker's.
    """
    found = Predictions.of_gold(doc)
    linked = found.with_quotes(linker(doc.text, found)).to_document(doc, rounded=False)
    return linked.model_copy(update={"entities": doc.entities, "layers": doc.layers})
