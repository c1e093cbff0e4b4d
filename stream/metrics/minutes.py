"""The minute windows of a metric state: which are closed, which may go, which changed.

Every state keeps its minutes on an ``EventClock`` of its partition. History needs each
minute once it is closed (``closed``), and again when something later changes it (a bounce
undone, a funnel step reached, a journey ended). ``Marks`` keeps a version counter per
minute, bumped by the state when it changes one; the aggregator compares versions, never
tallies (``stream.runtime.minutes_out``). Marks are not checkpointed: a restored state
starts new marks, so its closed minutes read as unsent and go out again (same values).

A minute may be dropped only once it is closed: a minute dropped while open would come
back holding only the events after the drop, and its history record would shrink.
"""

from __future__ import annotations

from collections.abc import Iterable

from stream.sketches.windows import DAY_MS, EventClock


class Marks:
    """Version counters of one state's minutes (0 for a minute not changed since made)."""

    __slots__ = ("tick", "versions")

    def __init__(self) -> None:
        self.tick = 0
        self.versions: dict[int, int] = {}

    def touch(self, start: int) -> None:
        """Note that the minute at ``start`` changed."""
        self.tick += 1
        self.versions[start] = self.tick

    def version(self, start: int) -> int:
        """The minute's version: differs from an earlier reading iff it changed since."""
        return self.versions.get(start, 0)

    def forget(self, starts: Iterable[int]) -> None:
        """Drop the marks of minutes the state dropped."""
        for start in starts:
            self.versions.pop(start, None)


def advance(clock: EventClock, ts: int, received_at: int) -> None:
    """Move ``clock``'s watermark with an event the state does not window itself."""
    seen = ts if ts < received_at else received_at
    if seen > clock.max_ts:  # noqa: PLR1730 (per batch on every state: a builtin costs more)
        clock.max_ts = seen


def closed(clock: EventClock, starts: Iterable[int]) -> list[int]:
    """The closed minutes among ``starts``, oldest first."""
    return sorted(start for start in starts if clock.is_closed(start))


def stale(clock: EventClock, starts: Iterable[int], oldest: int, now_ms: int) -> list[int]:
    """Minutes a state may drop: closed ones before ``oldest``, and any beyond tomorrow.

    Windows far in the future come from clocks that are wrong; they would never age.
    """
    return [
        start
        for start in starts
        if (start < oldest and clock.is_closed(start)) or start > now_ms + DAY_MS
    ]
