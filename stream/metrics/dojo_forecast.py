"""Forecasts of dojo events, learned online from past events only: fill at close and turnout.

Two river regressions, fed in prequential order (each past event is predicted, its error
kept, and only then learned), event by event in the order their registration closed:

- fill at registration close: from the fill so far, the days left, the last week's pace and
  the capacity, the model predicts the fill still to come (never below zero);
- turnout: from the tickets held, the fill and the share booked early, the heads at the door
  (learned as the difference from the tickets held: no-shows less walk-ins).

A model never sees a person: an event's counts per day are all it learns from. Naive
baselines beside each (the fill stays as it is; everyone booked comes) are scored on the same
events, so the panel shows whether the models earn their place. ``fit`` is deterministic:
the same past events give the same models, so a worker rebuilds them from its checkpointed
counts instead of pickling them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from river import compose, linear_model, optim, preprocessing

DAY_MS = 86_400_000
HORIZONS_D = (28, 21, 14, 10, 7, 5, 3, 2, 1)  # days before close a past event is replayed at
EARLY_D = 14  # tickets booked this long before the event count as "early" (more no-shows)


@dataclass(frozen=True, slots=True)
class PastEvent:
    """What the forecast learns from one event: its capacity, dates, daily curve, heads."""

    capacity: int
    closes_ms: int
    starts_ms: int
    curve: Mapping[int, int]  # UTC day start -> net tickets booked that day
    attended: int | None = None  # None: nobody checked in (not learned for turnout)


def booked(curve: Mapping[int, int], at_ms: int, since_ms: int | None = None) -> int:
    """Net tickets booked on the days before ``at_ms`` (and from ``since_ms`` on)."""
    low = -1 if since_ms is None else since_ms
    return sum(n for day, n in curve.items() if low <= day < at_ms)


def fill_features(
    capacity: int, curve: Mapping[int, int], closes_ms: int, at_ms: int
) -> dict[str, float]:
    """The fill model's inputs for an event seen at ``at_ms``."""
    places = max(capacity, 1)
    left = max(0.0, (closes_ms - at_ms) / DAY_MS)
    pace = booked(curve, at_ms, at_ms - 7 * DAY_MS) / places
    return {
        "fill": booked(curve, at_ms) / places,
        "days_left": left,
        "pace": pace,
        "pace_left": pace * left / 7,
        "room": max(0.0, 1 - booked(curve, at_ms) / places),
    }


def turnout_features(capacity: int, curve: Mapping[int, int], starts_ms: int) -> dict[str, float]:
    """The turnout model's inputs: tickets held at the start, fill and early share."""
    held = booked(curve, starts_ms + DAY_MS)
    early = booked(curve, starts_ms - EARLY_D * DAY_MS)
    return {
        "held": float(held),
        "fill": held / max(capacity, 1),
        "early": early / held if held > 0 else 0.0,
        "empty": float(max(capacity - held, 0)),
    }


def _model() -> compose.Pipeline:
    return compose.Pipeline(
        preprocessing.StandardScaler(),
        linear_model.LinearRegression(optimizer=optim.SGD(0.02), intercept_lr=0.02, l2=0.0),
    )


@dataclass(slots=True)
class Score:
    """Mean absolute error of a model and of its naive baseline on the same past events."""

    n: int = 0
    model: float = 0.0
    naive: float = 0.0

    def add(self, model_error: float, naive_error: float) -> None:
        self.n += 1
        self.model += abs(model_error)
        self.naive += abs(naive_error)

    def summary(self) -> dict[str, float | int | None]:
        """``{"n", "mae", "naive_mae"}`` (None before any event)."""
        if not self.n:
            return {"n": 0, "mae": None, "naive_mae": None}
        return {"n": self.n, "mae": self.model / self.n, "naive_mae": self.naive / self.n}


@dataclass(slots=True)
class Forecaster:
    """The two models and their prequential scores on the past events they learned from."""

    fill: compose.Pipeline = field(default_factory=_model)
    turnout: compose.Pipeline = field(default_factory=_model)
    fill_score: Score = field(default_factory=Score)  # fill points (0..1) at every horizon
    turnout_score: Score = field(default_factory=Score)  # heads
    events: int = 0

    @classmethod
    def fit(cls, past: Iterable[PastEvent]) -> Forecaster:
        """Learn from ``past`` in the order registration closed, predicting each first."""
        out = cls()
        for event in sorted(past, key=lambda e: (e.closes_ms, e.starts_ms)):
            out.learn(event)
        return out

    def learn(self, event: PastEvent) -> None:
        """Predict ``event`` at every horizon, score, then learn it."""
        places = max(event.capacity, 1)
        final = booked(event.curve, event.closes_ms + DAY_MS) / places
        for days in HORIZONS_D:
            at = event.closes_ms - days * DAY_MS
            x = fill_features(event.capacity, event.curve, event.closes_ms, at)
            self.fill_score.add(self._fill(x) - final, x["fill"] - final)
            self.fill.learn_one(x, final - x["fill"])
        if event.attended is not None:
            x = turnout_features(event.capacity, event.curve, event.starts_ms)
            self.turnout_score.add(self._turnout(x) - event.attended, x["held"] - event.attended)
            self.turnout.learn_one(x, event.attended - x["held"])
        self.events += 1

    def _fill(self, x: dict[str, float]) -> float:
        more = self.fill.predict_one(x) if self.events else 0.0
        return x["fill"] + max(0.0, float(more))

    def _turnout(self, x: dict[str, float]) -> float:
        if not self.turnout_score.n:
            return x["held"]
        return max(0.0, x["held"] + float(self.turnout.predict_one(x)))

    def predict_fill(
        self, capacity: int, curve: Mapping[int, int], closes_ms: int, now_ms: int
    ) -> float:
        """The expected fill (0..1, may pass 1 if the site overbooks) at registration close."""
        if now_ms >= closes_ms:
            return booked(curve, closes_ms + DAY_MS) / max(capacity, 1)
        return self._fill(fill_features(capacity, curve, closes_ms, now_ms))

    def predict_turnout(self, capacity: int, curve: Mapping[int, int], starts_ms: int) -> float:
        """The expected heads at the door, from the tickets held now."""
        return self._turnout(turnout_features(capacity, curve, starts_ms))
