"""What the stream counts for one variant of one experiment: exact, mergeable, serialisable.

A unit is an exposed session (a session lives on one partition, so counts merge by adding).
A unit converts on a goal when, after its first exposure, it sends a ``conversion`` with that
goal (``goal:<name>``, and ``goal:*`` for any goal), a ``form_submit`` (``form:<id>``) or a
``registration``; it counts once per goal however often it converts. Errors are units that
sent a form field ``error`` after exposure; vitals and dwell are those of pages after it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from stream.experiments.design import ANY_GOAL
from stream.experiments.guardrails import GOOD, Vital
from stream.experiments.running import Running
from stream.sketches import codec
from stream.sketches.quantiles import Quantiles

MAX_GOALS: Final = 24  # per variant; goals past it are not counted (``goal:*`` always is)


@dataclass(slots=True)
class Arm:
    """Counts of one variant."""

    units: int = 0
    exposures: int = 0
    errors: int = 0  # units with an error event
    goals: dict[str, int] = field(default_factory=dict)  # goal -> units that reached it
    dwell: Running = field(default_factory=Running)
    vitals: dict[str, Quantiles] = field(default_factory=dict)
    over: dict[str, int] = field(default_factory=dict)  # vital -> samples past "good"

    def reach(self, goal: str) -> None:
        """Count one more unit reaching ``goal``."""
        if goal in self.goals or len(self.goals) < MAX_GOALS or goal == ANY_GOAL:
            self.goals[goal] = self.goals.get(goal, 0) + 1

    def vital(self, name: str, value: float) -> None:
        """Fold one Core Web Vital sample of the variant's pages (guardrail vitals only)."""
        if name in GOOD:
            sketch = self.vitals.get(name)
            if sketch is None:
                sketch = self.vitals[name] = Quantiles()
            sketch.add(value)
            if value > GOOD[name]:
                self.over[name] = self.over.get(name, 0) + 1

    def merged(self, other: Arm) -> Arm:
        """A new arm holding both."""
        out = Arm.decode(self.encode())
        out.units += other.units
        out.exposures += other.exposures
        out.errors += other.errors
        for goal, n in other.goals.items():
            if goal in out.goals or len(out.goals) < MAX_GOALS or goal == ANY_GOAL:
                out.goals[goal] = out.goals.get(goal, 0) + n
        out.dwell.merge(other.dwell)
        for name, sketch in other.vitals.items():
            mine = out.vitals.get(name)
            out.vitals[name] = sketch.copy() if mine is None else mine.merge(sketch)
        for name, n in other.over.items():
            out.over[name] = out.over.get(name, 0) + n
        return out

    def p75s(self) -> dict[str, Vital]:
        """The p75 of each vital with its sample count."""
        out = {}
        for name, sketch in self.vitals.items():
            value = sketch.quantile(0.75)
            if value is not None:
                out[name] = Vital(value, sketch.count, self.over.get(name, 0))
        return out

    def encode(self) -> list[Any]:
        """JSON-ready form (checkpoints)."""
        vitals = {k: codec.to_text(q.to_bytes()) for k, q in self.vitals.items()}
        dwell = self.dwell.to_list()
        return [self.units, self.exposures, self.errors, self.goals, dwell, vitals, self.over]

    @classmethod
    def decode(cls, raw: list[Any]) -> Arm:
        """The inverse of ``encode``."""
        units, exposures, errors, goals, dwell, vitals, over = raw
        return cls(
            units,
            exposures,
            errors,
            dict(goals),
            Running.from_list(dwell),
            {k: Quantiles.from_bytes(codec.from_text(v)) for k, v in vitals.items()},
            dict(over),
        )
