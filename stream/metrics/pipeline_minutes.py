"""The validate stage's counts per closed minute, per raw partition, for history.

The stage has no event clock of its own; it has the server's ``received_at`` of every raw
message, in nearly increasing order per raw partition. Each raw partition therefore gets an
``EventClock`` over ``received_at``: a minute closes once messages received two minutes after
its end were judged. Counts are ``accepted`` (valid events) and ``dead.<reason>`` (dead
letters by reason); a message whose minute has closed (or that carries no time: unreadable)
counts in the newest minute of its partition.

These are counters for watching, like ``stream.metrics.pipeline``: a take judged again after
a crash counts again. The first minute a process sees on a partition it did not read from
its start may lack what an earlier owner judged, and is not handed over: a minute must never
replace a fuller record of itself in history.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from stream.sketches.tally import Tally
from stream.sketches.windows import DEFAULT_LATENESS_MS, MINUTE_MS, EventClock, window_start


class _Part:
    __slots__ = ("clock", "first", "minutes")

    def __init__(self, lateness_ms: int, first: int) -> None:
        self.clock = EventClock(MINUTE_MS, lateness_ms)
        self.first = first  # a minute not to hand over (-1: this process read from the start)
        self.minutes: dict[int, Counter[str]] = {}


class PipelineMinutes:
    """Accepted and dead-lettered counts per raw partition and received minute."""

    def __init__(self, lateness_ms: int = DEFAULT_LATENESS_MS) -> None:
        self.lateness_ms = lateness_ms
        self.parts: dict[int, _Part] = {}

    def add(
        self, partition: int, offset: int, received_at: int, accepted: int,
        reasons: Iterable[str],
    ) -> None:  # fmt: skip
        """Count one raw message's outcome: its valid events and its dead letters' reasons."""
        part = self.parts.get(partition)
        if part is None:
            first = -1 if offset == 0 else window_start(received_at)
            part = self.parts[partition] = _Part(self.lateness_ms, first)
        start = part.clock.admit(received_at, received_at) if received_at > 0 else None
        if start is None:  # late or without a time: the newest minute (never closed) has it
            if part.clock.max_ts <= 0:
                return  # nothing judged here yet has a time: no minute to count it in
            start = window_start(part.clock.max_ts)
        counts = part.minutes.get(start)
        if counts is None:
            counts = part.minutes[start] = Counter()
        if accepted:
            counts["accepted"] += accepted
        for reason in reasons:
            counts["dead." + reason] += 1

    def drain(self) -> list[tuple[int, int, Tally]]:
        """(partition, minute start, tally) of every minute closed since the last call."""
        out = []
        for partition, part in self.parts.items():
            for start in sorted(s for s in part.minutes if part.clock.is_closed(s)):
                counts = part.minutes.pop(start)
                if start != part.first:
                    out.append((partition, start, Tally(dict(counts))))
        return out
