"""What the analysis needs to know of an experiment, and the catalogue the agent keeps of them.

A ``Design`` is read from the experiment's published definition (content of type
``experiment``); an experiment seen in events but not (yet) in the catalogue is analysed with
its variants in name order, the first as control, equal weights and any goal as its metric.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final

from stream.experiments.analysis import DEFAULT_ALPHA

ANY_GOAL: Final = "goal:*"
REFRESH_S: Final = 5.0


@dataclass(frozen=True, slots=True)
class Design:
    """Variants in order (control first), planned weights, primary metric, alpha."""

    key: str
    variants: tuple[str, ...]
    weights: tuple[float, ...]
    primary: str = ANY_GOAL
    alpha: float = DEFAULT_ALPHA
    running: bool = True
    secondary: tuple[str, ...] = ()
    guardrails: frozenset[str] = frozenset()  # empty: every guardrail applies

    @classmethod
    def guessed(cls, key: str, seen: Iterable[str]) -> Design:
        """The design assumed for an experiment missing from the catalogue."""
        names = tuple(sorted(seen))
        return cls(key, names, tuple(1 / len(names) for _ in names) if names else ())


# Reads the published designs; None when the source cannot be read (the last ones stay).
Loader = Callable[[], Iterable[Design] | None]


@dataclass(slots=True)
class Catalogue:
    """The designs of the experiments published so far, shared by a worker's states.

    With a ``loader`` the designs are read again when older than ``REFRESH_S`` at the next
    question (a few rows, about a millisecond, at most every few seconds).
    """

    designs: dict[str, Design] = field(default_factory=dict)
    loader: Loader | None = None
    clock: Callable[[], float] = time.monotonic
    loaded: float = -REFRESH_S

    def put(self, design: Design) -> None:
        """Add or replace one experiment's design."""
        self.designs[design.key] = design

    def refresh(self) -> None:
        """Read the designs again if a loader is set and the last read is old enough."""
        now = self.clock()
        if self.loader is None or now - self.loaded < REFRESH_S:
            return
        self.loaded = now
        designs = self.loader()
        if designs is not None:
            self.designs = {d.key: d for d in designs}

    def design(self, key: str, seen: Iterable[str]) -> Design:
        """The published design, or the guessed one."""
        self.refresh()
        return self.designs.get(key) or Design.guessed(key, seen)
