"""Per-variant counts of every running experiment in one partition (a metric state).

``apply / merge / snapshot / expire`` like every metric state (``stream.metrics.traffic``),
with the clock passed in. Counts are exact and kept for the life of the experiment; the
last hour is kept per minute too, for history. A session's progress (the variants it was
exposed to, the goals it reached) is forgotten 30 minutes after its last batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from stream.experiments import sequential
from stream.experiments.analysis import VariantFigures, analyse
from stream.experiments.arm import Arm
from stream.experiments.assignment import MAX_VARIANTS
from stream.experiments.design import ANY_GOAL, Catalogue
from stream.metrics.minutes import Marks, advance, closed, stale
from stream.metrics.visits import SESSION_TIMEOUT_MS
from stream.sketches import codec
from stream.sketches.quantiles import LIBRARY as QUANTILES_LIBRARY
from stream.sketches.tally import Tally
from stream.sketches.windows import (
    DEFAULT_LATENESS_MS,
    HOUR_MS,
    MINUTE_MS,
    EventClock,
    window_start,
)

MAX_EXPERIMENTS: Final = 50  # exposures to more are dropped and counted in ``overflow``
# What a unit does after its exposure that the figures count.
_AFTER: Final = frozenset(
    {"conversion", "form_submit", "registration", "form_field", "web_vital", "page_leave"}
)


@dataclass(slots=True)
class _Seen:
    last_seen: int
    exposed: dict[str, list[Any]] = field(default_factory=dict)  # exp -> [variant, goals, erred]


class ExperimentsState:
    """Mergeable, serialisable experiment counts of one partition."""

    def __init__(
        self, catalogue: Catalogue | None = None, lateness_ms: int = DEFAULT_LATENESS_MS
    ) -> None:
        self.catalogue = catalogue if catalogue is not None else Catalogue()
        self.arms: dict[str, dict[str, Arm]] = {}
        self.progress: dict[str, _Seen] = {}
        self.minutes: dict[int, dict[str, int]] = {}
        self.clock = EventClock(MINUTE_MS, lateness_ms)
        self.marks = Marks()
        self.overflow = 0

    def _arm(self, experiment: str, variant: str) -> Arm | None:
        variants = self.arms.get(experiment)
        if variants is None:
            if len(self.arms) >= MAX_EXPERIMENTS:
                return None
            variants = self.arms[experiment] = {}
        arm = variants.get(variant)
        if arm is None and len(variants) < MAX_VARIANTS:
            arm = variants[variant] = Arm()
        return arm

    def _count(self, start: int | None, name: str) -> None:
        if start is not None:
            minute = self.minutes.setdefault(start, {})
            minute[name] = minute.get(name, 0) + 1
            self.marks.touch(start)

    def apply(self, batch: Mapping[str, Any], now_ms: int) -> None:
        """Fold the events of one ``EventBatch`` dict: exposures, then what follows them."""
        events = batch["events"]
        sid, received = batch["session_id"], batch["received_at"]
        seen = self.progress.get(sid)
        for e in events:
            kind = e["type"]
            if kind == "experiment_exposure":
                if seen is None:
                    seen = self.progress[sid] = _Seen(received)
                self._expose(seen, e, received)
            elif seen is not None and seen.exposed and kind in _AFTER:
                self._follow(seen, e, received)
        if seen is not None:
            seen.last_seen = max(seen.last_seen, received)
        if events:  # every event moves the clock, so quiet experiments' minutes close too
            advance(self.clock, events[-1]["ts"], received)

    def _expose(self, seen: _Seen, e: Mapping[str, Any], received: int) -> None:
        experiment, variant = e["props"]["experiment"], e["props"]["variant"]
        first = seen.exposed.get(experiment)
        if first is not None:  # exposed again: same unit, same (first) variant
            arm = self.arms.get(experiment, {}).get(first[0])
            if arm is not None:
                arm.exposures += 1
            return
        arm = self._arm(experiment, variant)
        if arm is None:
            self.overflow += 1
            return
        seen.exposed[experiment] = [variant, [], False]
        arm.units += 1
        arm.exposures += 1
        self._count(self.clock.admit(e["ts"], received), f"{experiment}.{variant}.units")

    def _follow(self, seen: _Seen, e: Mapping[str, Any], received: int) -> None:
        kind, props = e["type"], e["props"]
        goals: tuple[str, ...] = ()
        if kind == "conversion":
            goals = (f"goal:{props['goal']}", ANY_GOAL)
        elif kind == "form_submit":
            goals = (f"form:{props['form_id']}",)
        elif kind == "registration":
            goals = ("registration",)
        start = self.clock.admit(e["ts"], received) if goals else None
        for experiment, (variant, reached, erred) in seen.exposed.items():
            arm = self.arms[experiment][variant]
            if kind == "web_vital":
                arm.vital(props["name"], float(props["value"]))
            elif kind == "page_leave":
                arm.dwell.add(float(props["dwell_ms"]))
            elif kind == "form_field" and props["action"] == "error" and not erred:
                seen.exposed[experiment][2] = True
                arm.errors += 1
            for goal in goals:
                if goal not in reached:
                    reached.append(goal)
                    arm.reach(goal)
                    if goal == ANY_GOAL:
                        self._count(start, f"{experiment}.{variant}.conversions")

    def snapshot(self, now_ms: int) -> dict[str, Any]:
        """Every experiment's figures and decision line (``stream.experiments.analysis``)."""
        out = []
        for key, arms in sorted(self.arms.items()):
            design = self.catalogue.design(key, arms)
            if len(design.variants) < 2:
                out.append({"key": key, "status": "waiting", "decision": "one variant seen so far",
                            "variants": [], "primary": design.primary})  # fmt: skip
                continue
            figures = []
            for name, weight in zip(design.variants, design.weights, strict=True):
                arm = arms.get(name) or Arm()
                figures.append(
                    VariantFigures(
                        name,
                        weight,
                        arm.units,
                        arm.goals.get(design.primary, 0),
                        arm.errors,
                        arm.p75s(),
                        {"dwell_ms": arm.dwell},
                    )
                )
            result = analyse(figures, design.alpha, guarded=design.guardrails)
            control = arms.get(design.variants[0]) or Arm()
            each_alpha = design.alpha / (len(design.variants) - 1)
            for i, row in enumerate(result["variants"]):
                arm = arms.get(row["name"]) or Arm()
                row["exposures"], row["goals"] = arm.exposures, dict(sorted(arm.goals.items()))
                row["vitals"] = {k: v.p75 for k, v in sorted(arm.p75s().items())}
                if i:
                    row["secondary"] = _secondary(design.secondary, control, arm, each_alpha)
            unplanned = sorted(set(arms) - set(design.variants))
            about: dict[str, Any] = {"key": key, "primary": design.primary}
            about |= {"running": design.running, "unplanned": unplanned}
            out.append(about | result)
        return {"experiments": out, "overflow": self.overflow}

    def expire(self, now_ms: int) -> None:
        """Forget idle sessions and minutes older than an hour (counts stay)."""
        old = stale(self.clock, self.minutes, window_start(now_ms) - HOUR_MS, now_ms)
        for start in old:
            del self.minutes[start]
        self.marks.forget(old)
        idle = now_ms - SESSION_TIMEOUT_MS
        for sid in [k for k, s in self.progress.items() if s.last_seen <= idle]:
            del self.progress[sid]

    def merge(self, other: ExperimentsState, *, sessions: bool = True) -> ExperimentsState:
        """A new state of both partitions (``sessions=False`` skips progress: display only)."""
        out = ExperimentsState.from_bytes(self.to_bytes(sessions=sessions), self.catalogue)
        out.clock = self.clock.merge(other.clock)
        out.overflow += other.overflow
        for key, arms in other.arms.items():
            mine = out.arms.setdefault(key, {})
            for name, arm in arms.items():
                mine[name] = mine[name].merged(arm) if name in mine else arm.merged(Arm())
        for start, counts in other.minutes.items():
            minute = out.minutes.setdefault(start, {})
            for name, n in counts.items():
                minute[name] = minute.get(name, 0) + n
        for sid, s in other.progress.items() if sessions else ():
            held = out.progress.setdefault(sid, _Seen(s.last_seen))
            held.last_seen = max(held.last_seen, s.last_seen)
            held.exposed.update({k: [v[0], list(v[1]), v[2]] for k, v in s.exposed.items()})
        return out

    def minute_tally(self, start: int) -> Tally | None:
        """What history keeps of the minute at ``start``: units and conversions per variant."""
        counts = self.minutes.get(start)
        return None if counts is None else Tally({k: float(n) for k, n in counts.items()})

    def closed_minutes(self) -> list[int]:
        """Starts of the minutes held that are closed on the event clock, oldest first."""
        return closed(self.clock, self.minutes)

    def to_bytes(self, *, sessions: bool = True) -> bytes:
        """A checkpoint (``stream.sketches.codec``); vitals hold ddsketch's bins."""
        raw = {
            "arms": {k: {v: a.encode() for v, a in arms.items()} for k, arms in self.arms.items()},
            "progress": {sid: [s.last_seen, s.exposed] for sid, s in self.progress.items()}
            if sessions
            else {},
            "minutes": {str(m): counts for m, counts in self.minutes.items()},
            "clock": self.clock.to_list(),
            "overflow": self.overflow,
        }
        return codec.encode("experiments", 1, raw, libraries=(QUANTILES_LIBRARY,))

    @classmethod
    def from_bytes(cls, data: bytes, catalogue: Catalogue | None = None) -> ExperimentsState:
        """Rebuild a state written by ``to_bytes``."""
        return codec.decode("experiments", data, {1: lambda raw: cls._read_v1(raw, catalogue)})

    @classmethod
    def _read_v1(cls, raw: dict[str, Any], catalogue: Catalogue | None) -> ExperimentsState:
        out = cls(catalogue)
        out.arms = {
            k: {v: Arm.decode(a) for v, a in arms.items()} for k, arms in raw["arms"].items()
        }
        out.progress = {
            sid: _Seen(seen, exposed) for sid, (seen, exposed) in raw["progress"].items()
        }
        out.minutes = {int(m): counts for m, counts in raw["minutes"].items()}
        out.clock = EventClock.from_list(raw["clock"])
        out.overflow = raw["overflow"]
        return out


def _secondary(metrics: tuple[str, ...], control: Arm, arm: Arm, alpha: float) -> dict[str, Any]:
    """Each secondary metric against control: the difference, always-valid p and interval."""
    out = {}
    for metric in metrics:
        test = sequential.compare_rates(
            control.units, control.goals.get(metric, 0), arm.units, arm.goals.get(metric, 0), alpha
        )
        out[metric] = {"difference": test.difference, "p_value": test.p_value,
                       "low": test.low, "high": test.high}  # fmt: skip
    return out
