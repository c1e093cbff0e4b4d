"""Tumbling event-time windows with allowed lateness; all pure, the clock is passed in.

The watermark is the highest event time seen minus the allowed lateness. A window
``[start, start + size)`` is *closed* once ``start + size <= watermark``; an event that
falls into a closed window is counted as ``late`` (never dropped silently) and the caller
keeps it out of that window. Event times feeding the watermark are capped at the server's
``received_at``, so one visitor with a clock running fast cannot close everyone's windows.

>>> clock = EventClock(lateness_ms=60_000)
>>> clock.admit(120_000, received_at=120_000)
120000
>>> clock.admit(5_000, received_at=120_000) is None, clock.late
(True, 1)
"""

from __future__ import annotations

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
# Two minutes covers beacon batching and page-unload flushes while windows still close
# soon enough for downstream consumers to act on them.
DEFAULT_LATENESS_MS = 120_000

_NEVER = -(1 << 62)


def window_start(ts_ms: int, size_ms: int = MINUTE_MS) -> int:
    """Start of the tumbling window of ``size_ms`` that holds ``ts_ms``."""
    return ts_ms - ts_ms % size_ms


def day_start(ts_ms: int) -> int:
    """Start of the UTC day that holds ``ts_ms``."""
    return ts_ms - ts_ms % DAY_MS


def recent_windows(now_ms: int, count: int, size_ms: int = MINUTE_MS) -> range:
    """Starts of the last ``count`` windows up to and including the one holding ``now_ms``."""
    current = window_start(now_ms, size_ms)
    return range(current - (count - 1) * size_ms, current + size_ms, size_ms)


class EventClock:
    """Watermark and late-event count for tumbling windows of one partition."""

    __slots__ = ("late", "lateness_ms", "max_ts", "size_ms")

    def __init__(
        self,
        size_ms: int = MINUTE_MS,
        lateness_ms: int = DEFAULT_LATENESS_MS,
        max_ts: int = _NEVER,
        late: int = 0,
    ) -> None:
        self.size_ms = size_ms
        self.lateness_ms = lateness_ms
        self.max_ts = max_ts
        self.late = late

    @property
    def watermark(self) -> int:
        """Highest event time seen minus the allowed lateness."""
        return self.max_ts - self.lateness_ms

    def is_closed(self, start: int) -> bool:
        """True once no more events may enter the window starting at ``start``."""
        return start + self.size_ms <= self.max_ts - self.lateness_ms

    def admit(self, ts_ms: int, received_at: int) -> int | None:
        """The window start for an event at ``ts_ms``, or None (counted late) if closed."""
        start = ts_ms - ts_ms % self.size_ms
        if start + self.size_ms <= self.max_ts - self.lateness_ms:
            self.late += 1
            return None
        seen = ts_ms if ts_ms < received_at else received_at
        if seen > self.max_ts:  # noqa: PLR1730 (hot path: a builtin call costs more)
            self.max_ts = seen
        return start

    def merge(self, other: EventClock) -> EventClock:
        """The clock of both partitions together: latest watermark, summed late count."""
        return EventClock(
            self.size_ms,
            self.lateness_ms,
            max(self.max_ts, other.max_ts),
            self.late + other.late,
        )

    def to_list(self) -> list[int]:
        """Plain values for serialisation."""
        return [self.size_ms, self.lateness_ms, self.max_ts, self.late]

    @classmethod
    def from_list(cls, values: list[int]) -> EventClock:
        """Rebuild a clock written by ``to_list``."""
        size_ms, lateness_ms, max_ts, late = values
        return cls(size_ms, lateness_ms, max_ts, late)
