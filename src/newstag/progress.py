"""Progress for long commands: counts and rate on a terminal, nothing when piped.

One rule for train, evaluate and predict: a bar goes to stderr only when stderr is a
terminal, so logs, pipes and CI output stay free of carriage-return noise.
"""
from __future__ import annotations

import sys
from typing import Iterable, Optional


def on_terminal() -> bool:
    return sys.stderr.isatty()


class _Quiet:
    """Stands in for a bar when there is none to draw."""

    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def progress(iterable: Optional[Iterable] = None, *, desc: str, unit: str, total: Optional[int] = None,
             enabled: Optional[bool] = None):
    """``iterable`` wrapped in a tqdm bar (or, without one, a bar to ``update``); as it is,
    or a quiet stand-in, when not on a terminal (``enabled`` None) or not ``enabled``."""
    if not (on_terminal() if enabled is None else enabled):
        return iterable if iterable is not None else _Quiet()
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, unit=unit, total=total, leave=False, file=sys.stderr)
