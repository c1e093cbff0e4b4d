"""One funnel's track: its minute and day cells and the progress of each live session.

``stream.metrics.funnels`` holds one track per configured funnel and states the rules; a
track applies them to one event at a time (``see``), reports a window's cells (``report``),
merges with the same funnel's track of another partition and encodes for a checkpoint.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stream.metrics.funnel_cells import Buckets, Cell, merge_buckets, total
from stream.metrics.funnel_config import Funnel
from stream.metrics.minutes import Marks
from stream.sketches.quantiles import Quantiles
from stream.sketches.windows import DAY_MS, MINUTE_MS, EventClock

DEVICES = ("mobile", "tablet", "desktop", "unknown")
# Progress of one session: [steps entered, step-1 ts, previous step ts, minute, day,
# device, last batch received_at].
_REACHED, _ENTRY, _PREV, _MINUTE, _DAY, _DEVICE, SEEN = range(7)


class Track:
    """The state of one funnel: minute and day cells, and each live session's progress."""

    __slots__ = ("days", "funnel", "minutes", "progress")

    def __init__(self, funnel: Funnel) -> None:
        self.funnel = funnel
        self.minutes: Buckets = {}
        self.days: Buckets = {}
        self.progress: dict[str, list[Any]] = {}

    def _cells(self, p: list[Any], marks: Marks) -> list[Cell]:
        n, device, minute = len(self.funnel.steps), p[_DEVICE], p[_MINUTE]
        cells = []
        for buckets, key in ((self.minutes, minute), (self.days, p[_DAY])):
            by_device = buckets.get(key)
            if by_device is None:
                if buckets is self.minutes and (p[_REACHED] > 1 or key < 0):
                    continue  # a minute already dropped (or late) must not come back partial
                by_device = buckets[key] = {}
            cell = by_device.get(device)
            if cell is None:
                cell = by_device[device] = Cell(n)
            cells.append(cell)
        if minute in self.minutes:
            marks.touch(minute)
        return cells

    def see(
        self, sid: str, device: str, received: int, e: Mapping[str, Any], clock: EventClock,
        marks: Marks,
    ) -> None:  # fmt: skip
        kind, ts = e["type"], e["ts"]
        steps = self.funnel.steps
        p = self.progress.get(sid)
        if p is None:
            if steps[0].matches(kind, e["url"], e["props"]):
                minute = ts - ts % MINUTE_MS
                minute = -1 if clock.is_closed(minute) else minute  # -1: late, day only
                p = [1, ts, ts, minute, ts - ts % DAY_MS, device, received]
                self.progress[sid] = p
                for cell in self._cells(p, marks):
                    cell.entered[0] += 1
            return
        reached = p[_REACHED]
        if reached == len(steps) or ts - p[_ENTRY] > self.funnel.window_ms:
            return
        if steps[reached].matches(kind, e["url"], e["props"]):
            gap = float(max(ts - p[_PREV], 0))
            p[_REACHED] = reached + 1  # before the cells: a later step never makes a minute
            for cell in self._cells(p, marks):
                cell.entered[reached] += 1
                sketch = cell.gaps[reached - 1]
                if sketch is None:
                    sketch = cell.gaps[reached - 1] = Quantiles()
                sketch.add(gap)
            p[_PREV] = ts

    def stats(self, cell: Cell) -> dict[str, Any]:
        names = [s.name for s in self.funnel.steps]
        entered = cell.entered
        steps = []
        for i, name in enumerate(names):
            median = None
            if i and (sketch := cell.gaps[i - 1]) is not None and sketch.count:
                value = sketch.quantile(0.5)
                median = None if value is None else round(value)
            steps.append(
                {
                    "name": name,
                    "sessions": entered[i],
                    "conversion": (entered[i] / entered[i - 1] if entered[i - 1] else 0.0)
                    if i
                    else None,
                    "median_ms_from_prev": median,
                }
            )
        drops = [entered[i - 1] - entered[i] for i in range(1, len(names))]
        worst = max(drops, default=0)
        return {
            "steps": steps,
            "overall_conversion": entered[-1] / entered[0] if entered[0] else 0.0,
            "biggest_dropoff_step": names[drops.index(worst) + 1] if worst > 0 else None,
        }

    def report(self, cells: Mapping[str, Cell]) -> dict[str, Any]:
        n = len(self.funnel.steps)
        out = self.stats(total(cells.values(), n))
        out["by_device"] = {d: self.stats(cells[d]) for d in DEVICES if d in cells}
        return out

    def merged(self, other: Track, sessions: bool) -> Track:
        n = len(self.funnel.steps)
        out = Track(self.funnel)
        out.minutes = merge_buckets(self.minutes, other.minutes, n)
        out.days = merge_buckets(self.days, other.days, n)
        if sessions:
            # A session lives on one partition, so the two progress maps never disagree.
            out.progress = {sid: list(p) for sid, p in self.progress.items()}
            out.progress.update({sid: list(p) for sid, p in other.progress.items()})
        return out

    def encode(self) -> dict[str, Any]:
        def buckets(b: Buckets) -> dict[str, Any]:
            return {str(k): {d: c.encode() for d, c in cells.items()} for k, cells in b.items()}

        return {
            "minutes": buckets(self.minutes),
            "days": buckets(self.days),
            "progress": self.progress,
        }

    @classmethod
    def decode(cls, funnel: Funnel, raw: Mapping[str, Any]) -> Track:
        def buckets(b: Mapping[str, Any]) -> Buckets:
            return {
                int(k): {d: Cell.decode(row) for d, row in cells.items()} for k, cells in b.items()
            }

        out = cls(funnel)
        out.minutes = buckets(raw["minutes"])
        out.days = buckets(raw["days"])
        out.progress = {sid: list(p) for sid, p in raw["progress"].items()}
        return out
