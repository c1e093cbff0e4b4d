"""Conversion funnels of one partition: sessions entering each step, conversion and step timing.

Definitions (exact, per funnel from ``stream.metrics.funnel_config``):

- A session *enters step 1* at its first event matching step 1. From then on each event,
  in arrival order (a session's batches arrive in sending order), is checked against the
  next step only; when it matches and its ``ts`` is at most ``window_ms`` after the step-1
  entry, the session *enters* that step. So a session enters step k once it has completed
  steps 1..k in order within the window, and counts at most once per step.
- One attempt per session: once the window has passed the session stays at the step it
  reached. A session forgotten after 30 idle minutes (server time) starts afresh if it
  comes back, as traffic counts it as a new session.
- Every step entry of a session is counted in the 1-minute window and the UTC day of its
  step-1 entry's ``ts``, under the device class of that batch; "last hour" sums the 60
  minute windows up to ``now``.
- ``conversion`` of step k is entered(k) / entered(k-1) (None for step 1);
  ``overall_conversion`` is entered(last) / entered(first); ``median_ms_from_prev`` is the
  median of ``ts`` (step k entry) - ``ts`` (step k-1 entry), from a DDSketch (1 % relative
  accuracy, mergeable); ``biggest_dropoff_step`` names the step k that the largest number
  of sessions entering step k-1 failed to reach (earliest on ties, None when nobody left).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from stream.metrics.funnel_cells import Buckets, Cell, merge_buckets, total
from stream.metrics.funnel_config import Funnel, parse_funnels
from stream.metrics.visits import SESSION_TIMEOUT_MS
from stream.sketches import codec
from stream.sketches.quantiles import LIBRARY as QUANTILES_LIBRARY
from stream.sketches.quantiles import Quantiles
from stream.sketches.windows import (
    DAY_MS,
    HOUR_MS,
    MINUTE_MS,
    day_start,
    recent_windows,
    window_start,
)

DEVICES = ("mobile", "tablet", "desktop", "unknown")
# Progress of one session: [steps entered, step-1 ts, previous step ts, minute, day,
# device, last batch received_at].
_REACHED, _ENTRY, _PREV, _MINUTE, _DAY, _DEVICE, _SEEN = range(7)


class _Track:
    """The state of one funnel."""

    __slots__ = ("days", "funnel", "minutes", "progress")

    def __init__(self, funnel: Funnel) -> None:
        self.funnel = funnel
        self.minutes: Buckets = {}
        self.days: Buckets = {}
        self.progress: dict[str, list[Any]] = {}

    def _cells(self, p: list[Any]) -> tuple[Cell, Cell]:
        n, device = len(self.funnel.steps), p[_DEVICE]
        cells = []
        for buckets, key in ((self.minutes, p[_MINUTE]), (self.days, p[_DAY])):
            by_device = buckets.get(key)
            if by_device is None:
                by_device = buckets[key] = {}
            cell = by_device.get(device)
            if cell is None:
                cell = by_device[device] = Cell(n)
            cells.append(cell)
        return cells[0], cells[1]

    def see(self, sid: str, device: str, received: int, e: Mapping[str, Any]) -> None:
        kind, ts = e["type"], e["ts"]
        steps = self.funnel.steps
        p = self.progress.get(sid)
        if p is None:
            if steps[0].matches(kind, e["url"], e["props"]):
                p = [1, ts, ts, ts - ts % MINUTE_MS, ts - ts % DAY_MS, device, received]
                self.progress[sid] = p
                for cell in self._cells(p):
                    cell.entered[0] += 1
            return
        reached = p[_REACHED]
        if reached == len(steps) or ts - p[_ENTRY] > self.funnel.window_ms:
            return
        if steps[reached].matches(kind, e["url"], e["props"]):
            gap = float(max(ts - p[_PREV], 0))
            for cell in self._cells(p):
                cell.entered[reached] += 1
                sketch = cell.gaps[reached - 1]
                if sketch is None:
                    sketch = cell.gaps[reached - 1] = Quantiles()
                sketch.add(gap)
            p[_REACHED], p[_PREV] = reached + 1, ts

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

    def merged(self, other: _Track, sessions: bool) -> _Track:
        n = len(self.funnel.steps)
        out = _Track(self.funnel)
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
    def decode(cls, funnel: Funnel, raw: Mapping[str, Any]) -> _Track:
        def buckets(b: Mapping[str, Any]) -> Buckets:
            return {
                int(k): {d: Cell.decode(row) for d, row in cells.items()} for k, cells in b.items()
            }

        out = cls(funnel)
        out.minutes = buckets(raw["minutes"])
        out.days = buckets(raw["days"])
        out.progress = {sid: list(p) for sid, p in raw["progress"].items()}
        return out


class FunnelsState:
    """Mergeable, serialisable funnel metrics of one partition."""

    def __init__(self, funnels: Sequence[Funnel]) -> None:
        self.tracks = [_Track(f) for f in funnels]
        self._kinds = frozenset(s.kind for f in funnels for s in f.steps)

    @property
    def funnels(self) -> list[Funnel]:
        """The funnel definitions this state counts."""
        return [t.funnel for t in self.tracks]

    def apply(self, batch: Mapping[str, Any], now_ms: int) -> None:
        """Fold one ``EventBatch`` dict into the funnels."""
        kinds, tracks = self._kinds, self.tracks
        sid, received = batch["session_id"], batch["received_at"]
        device = batch["device"]
        if device not in DEVICES:
            device = "unknown"
        for e in batch["events"]:
            if e["type"] in kinds:
                for track in tracks:
                    track.see(sid, device, received, e)
        for track in tracks:
            p = track.progress.get(sid)
            if p is not None and received > p[_SEEN]:
                p[_SEEN] = received

    def snapshot(self, now_ms: int) -> dict[str, Any]:
        """Today's (UTC) funnels with device split and the last hour, as of ``now_ms``."""
        today = day_start(now_ms)
        hour = recent_windows(now_ms, 60)
        out = []
        for track in self.tracks:
            n = len(track.funnel.steps)
            last_hour: dict[str, Cell] = {}
            for start in hour:
                for device, cell in track.minutes.get(start, {}).items():
                    last_hour.setdefault(device, Cell(n)).update(cell)
            report = track.report(track.days.get(today, {}))
            report = {"name": track.funnel.name, "window_ms": track.funnel.window_ms, **report}
            report["last_hour"] = track.report(last_hour)
            out.append(report)
        return {"funnels": out}

    def windows(self, now_ms: int) -> list[dict[str, Any]]:
        """Per-minute step entries of the last hour, per funnel, oldest minute first."""
        out = []
        for track in self.tracks:
            n = len(track.funnel.steps)
            for start in recent_windows(now_ms, 60):
                cells = track.minutes.get(start)
                if cells:
                    entered = total(cells.values(), n).entered
                    out.append(
                        {
                            "funnel": track.funnel.name,
                            "window_start": start,
                            "window_end": start + MINUTE_MS,
                            "sessions": entered,
                        }
                    )
        return out

    def expire(self, now_ms: int) -> None:
        """Forget idle sessions, minutes before the last hour and days before yesterday."""
        oldest_minute = window_start(now_ms) - HOUR_MS
        today = day_start(now_ms)
        idle = now_ms - SESSION_TIMEOUT_MS
        for track in self.tracks:
            # Windows far in the future come from clocks that are wrong; they would never age.
            for start in [m for m in track.minutes if not oldest_minute <= m <= now_ms + DAY_MS]:
                del track.minutes[start]
            for start in [d for d in track.days if not today - DAY_MS <= d <= today + DAY_MS]:
                del track.days[start]
            for sid in [s for s, p in track.progress.items() if p[_SEEN] <= idle]:
                del track.progress[sid]

    def merge(self, other: FunnelsState, *, sessions: bool = True) -> FunnelsState:
        """A new state of both partitions (``sessions=False`` skips progress: display only)."""
        if self.funnels != other.funnels:
            raise ValueError("cannot merge states of different funnel definitions")
        out = FunnelsState(self.funnels)
        out.tracks = [a.merged(b, sessions) for a, b in zip(self.tracks, other.tracks, strict=True)]
        return out

    def to_bytes(self) -> bytes:
        """A checkpoint (``stream.sketches.codec``) with the funnel definitions and sketch bins."""
        raw = {
            "funnels": [t.funnel.as_dict() for t in self.tracks],
            "tracks": [t.encode() for t in self.tracks],
        }
        return codec.encode("funnels", 1, raw, libraries=(QUANTILES_LIBRARY,))

    @classmethod
    def from_bytes(cls, data: bytes, funnels: Sequence[Funnel] | None = None) -> FunnelsState:
        """Rebuild a checkpoint; given ``funnels``, a funnel whose definition changed restarts."""
        return codec.decode("funnels", data, {1: lambda raw: cls._read_v1(raw, funnels)})

    @classmethod
    def _read_v1(cls, raw: dict[str, Any], funnels: Sequence[Funnel] | None) -> FunnelsState:
        saved = parse_funnels({"funnels": raw["funnels"]}, "checkpoint")
        stored = {f.name: (f, t) for f, t in zip(saved, raw["tracks"], strict=True)}
        out = cls(saved if funnels is None else funnels)
        for i, track in enumerate(out.tracks):
            old = stored.get(track.funnel.name)
            if old is not None and old[0] == track.funnel:
                out.tracks[i] = _Track.decode(track.funnel, old[1])
        return out
