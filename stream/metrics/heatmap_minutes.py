"""Heatmap minutes: clicks, scrolls and rage bursts per minute window, for history.

The heatmaps state keeps its grids per UTC day; history needs totals per minute. A minute
counts the clicks (also per page, capped like other per-window keys), ``scroll`` events and
rage bursts whose time falls in it, on the partition's event clock: an event whose minute
has closed counts for its day only. Nothing here changes a minute once it is closed.
"""

from __future__ import annotations

from typing import Any

from stream.metrics.minutes import Marks, advance, closed, stale
from stream.sketches.counters import bump
from stream.sketches.tally import Tally
from stream.sketches.windows import HOUR_MS, MINUTE_MS, EventClock, window_start

MINUTE_PAGES = 100  # distinct pages counted per minute; the rest under ``(other)``
_CLICKS, _SCROLLS, _RAGE, _PAGES = range(4)


class HeatMinutes:
    """The per-minute part of one partition's heatmaps, on its own event clock."""

    __slots__ = ("clock", "marks", "minutes")

    def __init__(self, clock: EventClock) -> None:
        self.clock = clock
        self.marks = Marks()
        self.minutes: dict[int, list[Any]] = {}  # start -> [clicks, scrolls, rage, {url: n}]

    def _row(self, ts: int) -> list[Any] | None:
        start = ts - ts % MINUTE_MS
        if self.clock.is_closed(start):
            return None  # late: its day has it
        row = self.minutes.get(start)
        if row is None:
            row = self.minutes[start] = [0, 0, 0, {}]
        self.marks.touch(start)
        return row

    def click(self, ts: int, url: str) -> None:
        """Count a click on ``url``."""
        row = self._row(ts)
        if row is not None:
            row[_CLICKS] += 1
            bump(row[_PAGES], url, 1, MINUTE_PAGES)

    def scroll(self, ts: int) -> None:
        """Count a ``scroll`` event."""
        row = self._row(ts)
        if row is not None:
            row[_SCROLLS] += 1

    def rage(self, ts: int) -> None:
        """Count a rage burst found at a click at ``ts``."""
        row = self._row(ts)
        if row is not None:
            row[_RAGE] += 1

    def advance(self, ts: int, received_at: int) -> None:
        """Move the clock with any event of the partition (see ``minutes.advance``)."""
        advance(self.clock, ts, received_at)

    def expire(self, now_ms: int) -> None:
        """Forget closed minutes before the last hour."""
        old = stale(self.clock, self.minutes, window_start(now_ms) - HOUR_MS, now_ms)
        for start in old:
            del self.minutes[start]
        self.marks.forget(old)

    def tally(self, start: int) -> Tally | None:
        """What history keeps of the minute at ``start`` (None when it holds nothing)."""
        row = self.minutes.get(start)
        if row is None:
            return None
        counts: dict[str, float] = {"clicks": row[_CLICKS], "scrolls": row[_SCROLLS]}
        counts["rage"] = row[_RAGE]
        counts.update({f"clicks.{url}": n for url, n in row[_PAGES].items()})
        return Tally(counts)

    def closed(self) -> list[int]:
        """Starts of the minutes held that are closed on the event clock, oldest first."""
        return closed(self.clock, self.minutes)

    def merge(self, other: HeatMinutes) -> HeatMinutes:
        """The minutes of both partitions, added up."""
        out = HeatMinutes(self.clock.merge(other.clock))
        for source in (self.minutes, other.minutes):
            for start, row in source.items():
                mine = out.minutes.setdefault(start, [0, 0, 0, {}])
                for i in (_CLICKS, _SCROLLS, _RAGE):
                    mine[i] += row[i]
                for url, n in row[_PAGES].items():
                    bump(mine[_PAGES], url, n, MINUTE_PAGES)
        return out

    def encode(self) -> dict[str, Any]:
        """A JSON-able part of the state's checkpoint."""
        return {
            "clock": self.clock.to_list(),
            "minutes": {str(k): r for k, r in self.minutes.items()},
        }

    @classmethod
    def decode(cls, raw: dict[str, Any]) -> HeatMinutes:
        """Inverse of ``encode``."""
        out = cls(EventClock.from_list(raw["clock"]))
        out.minutes = {int(k): [*row[:3], dict(row[3])] for k, row in raw["minutes"].items()}
        return out
