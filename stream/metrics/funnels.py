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
  minute windows up to ``now``. Minutes follow the partition's event clock: a session
  entering step 1 in a closed minute counts for its day only; later steps of a session
  change its (closed) minute while the minute is held, which sends it to history again.
- ``conversion`` of step k is entered(k) / entered(k-1) (None for step 1);
  ``overall_conversion`` is entered(last) / entered(first); ``median_ms_from_prev`` is the
  median of ``ts`` (step k entry) - ``ts`` (step k-1 entry), from a DDSketch (1 % relative
  accuracy, mergeable); ``biggest_dropoff_step`` names the step k that the largest number
  of sessions entering step k-1 failed to reach (earliest on ties, None when nobody left).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from stream.metrics.funnel_cells import Cell, total
from stream.metrics.funnel_config import Funnel, parse_funnels
from stream.metrics.funnel_track import DEVICES, SEEN, Track
from stream.metrics.minutes import Marks, advance, closed, stale
from stream.metrics.visits import SESSION_TIMEOUT_MS
from stream.sketches import codec
from stream.sketches.quantiles import LIBRARY as QUANTILES_LIBRARY
from stream.sketches.tally import Tally
from stream.sketches.windows import (
    DAY_MS,
    DEFAULT_LATENESS_MS,
    HOUR_MS,
    MINUTE_MS,
    EventClock,
    day_start,
    recent_windows,
    window_start,
)


class FunnelsState:
    """Mergeable, serialisable funnel metrics of one partition."""

    def __init__(self, funnels: Sequence[Funnel], lateness_ms: int = DEFAULT_LATENESS_MS) -> None:
        self.tracks = [Track(f) for f in funnels]
        self._kinds = frozenset(s.kind for f in funnels for s in f.steps)
        self.clock = EventClock(MINUTE_MS, lateness_ms)
        self.marks = Marks()  # one version per minute start, whichever funnel changed it

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
        events, clock, marks = batch["events"], self.clock, self.marks
        for e in events:
            if e["type"] in kinds:
                for track in tracks:
                    track.see(sid, device, received, e, clock, marks)
        for track in tracks:
            p = track.progress.get(sid)
            if p is not None and received > p[SEEN]:
                p[SEEN] = received
        if events:  # every event moves the clock, so minutes close without more steps
            advance(clock, events[-1]["ts"], received)

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
            old = stale(self.clock, track.minutes, oldest_minute, now_ms)
            for start in old:
                del track.minutes[start]
            self.marks.forget(old)
            for start in [d for d in track.days if not today - DAY_MS <= d <= today + DAY_MS]:
                del track.days[start]
            for sid in [s for s, p in track.progress.items() if p[SEEN] <= idle]:
                del track.progress[sid]

    def merge(self, other: FunnelsState, *, sessions: bool = True) -> FunnelsState:
        """A new state of both partitions (``sessions=False`` skips progress: display only)."""
        if self.funnels != other.funnels:
            raise ValueError("cannot merge states of different funnel definitions")
        out = FunnelsState(self.funnels, self.clock.lateness_ms)
        out.clock = self.clock.merge(other.clock)
        out.tracks = [a.merged(b, sessions) for a, b in zip(self.tracks, other.tracks, strict=True)]
        return out

    def minute_tally(self, start: int) -> Tally | None:
        """What history keeps of the minute at ``start`` (None when it holds nothing)."""
        counts: dict[str, float] = {}
        for track in self.tracks:
            cells = track.minutes.get(start)
            if cells:
                entered = total(cells.values(), len(track.funnel.steps)).entered
                counts.update({f"{track.funnel.name}.{i}": n for i, n in enumerate(entered)})
        return Tally(counts) if counts else None

    def closed_minutes(self) -> list[int]:
        """Starts of the minutes held that are closed on the event clock, oldest first."""
        return closed(self.clock, {start for t in self.tracks for start in t.minutes})

    def to_bytes(self) -> bytes:
        """A checkpoint (``stream.sketches.codec``) with the funnel definitions and sketch bins."""
        raw = {
            "funnels": [t.funnel.as_dict() for t in self.tracks],
            "tracks": [t.encode() for t in self.tracks],
            "clock": self.clock.to_list(),
        }
        return codec.encode("funnels", 2, raw, libraries=(QUANTILES_LIBRARY,))

    @classmethod
    def from_bytes(cls, data: bytes, funnels: Sequence[Funnel] | None = None) -> FunnelsState:
        """Rebuild a checkpoint; given ``funnels``, a funnel whose definition changed restarts."""
        # v1 had no clock: its minutes read as open until events move a new one past them.
        return codec.decode(
            "funnels", data,
            {1: lambda raw: cls._read(raw, funnels), 2: lambda raw: cls._read(raw, funnels, True)},
        )  # fmt: skip

    @classmethod
    def _read(
        cls, raw: dict[str, Any], funnels: Sequence[Funnel] | None, clock: bool = False
    ) -> FunnelsState:
        saved = parse_funnels({"funnels": raw["funnels"]}, "checkpoint")
        stored = {f.name: (f, t) for f, t in zip(saved, raw["tracks"], strict=True)}
        out = cls(saved if funnels is None else funnels)
        for i, track in enumerate(out.tracks):
            old = stored.get(track.funnel.name)
            if old is not None and old[0] == track.funnel:
                out.tracks[i] = Track.decode(track.funnel, old[1])
        if clock:
            out.clock = EventClock.from_list(raw["clock"])
        return out
