"""What the analysis needs to know of an experiment, and the catalogue the agent keeps of them.

A ``Design`` is read from the experiment's published definition (content of type
``experiment``); an experiment seen in events but not (yet) in the catalogue is analysed with
its variants in name order, the first as control, equal weights and any goal as its metric.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from stream.experiments.analysis import DEFAULT_ALPHA

ANY_GOAL: Final = "goal:*"


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


@dataclass(slots=True)
class Catalogue:
    """The designs of the experiments published so far, shared by a worker's states.

    Kept up to date by ``put`` and ``drop``: the worker follows ``dojo.content``
    (``stream.experiments.definition.FollowedDesigns``), so a change is seen as it is published.
    """

    designs: dict[str, Design] = field(default_factory=dict)

    def put(self, design: Design) -> None:
        """Add or replace one experiment's design."""
        self.designs[design.key] = design

    def drop(self, key: str) -> None:
        """Forget one experiment's design (unpublished: its figures fall back to the guess)."""
        self.designs.pop(key, None)

    def design(self, key: str, seen: Iterable[str]) -> Design:
        """The published design, or the guessed one."""
        return self.designs.get(key) or Design.guessed(key, seen)
