"""Closed minutes waiting to be written: grouped per channel and minute, offsets kept.

A channel's minute comes in one record per source partition ("part"), each when its own
partition's clock closes the minute, seconds apart. Writing each as it comes would write
the channel's minute (and recompute its hour and day) once per part; a group waits instead
until every part the channel has shown is in, or ``wait_parts_s`` has passed (a quiet
partition sends nothing for a minute), so in steady state a channel's minute is written
once. Kafka offsets are committed only past what is written: the safe offset of a
partition is the lowest one still waiting, so a crash reads the waiting records again.
Time is passed in (``now``, seconds of a monotonic clock).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from stream.store.history import MinuteRow

Key = tuple[str, int]  # (channel, minute start)
REMEMBER_MS = 2 * 3_600_000  # written parts of a minute are remembered this long (event time)


@dataclass
class Group:
    """One channel's minute: the newest row of each part, and where they came from."""

    since: float
    rows: dict[int, MinuteRow] = field(default_factory=dict)
    firsts: dict[int, int] = field(default_factory=dict)  # topic partition -> lowest offset


class Batch:
    """Rows waiting for their write, and the offsets safe to commit."""

    def __init__(self, wait_parts_s: float = 10.0, max_rows: int = 2000) -> None:
        self.wait_parts_s = wait_parts_s
        self.max_rows = max_rows  # past this many a take writes everything (a backlog)
        self.groups: dict[Key, Group] = {}
        self.parts: dict[str, set[int]] = {}  # every part each channel has shown
        self.written: dict[Key, set[int]] = {}
        self.next: dict[int, int] = {}  # topic partition -> one past the last record seen
        self.newest = 0  # the newest minute start seen

    @property
    def rows(self) -> int:
        """Rows waiting."""
        return sum(len(group.rows) for group in self.groups.values())

    def add(self, row: MinuteRow, partition: int, offset: int, now: float) -> None:
        """Hold ``row``, read at ``offset`` of ``partition``; a newer row of its part wins."""
        group = self.groups.setdefault((row.channel, row.start), Group(now))
        group.rows[row.part] = row
        group.firsts.setdefault(partition, offset)
        self.parts.setdefault(row.channel, set()).add(row.part)
        self.newest = max(self.newest, row.start)
        self.skip(partition, offset)

    def skip(self, partition: int, offset: int) -> None:
        """A record read that holds nothing to write: its offset may be committed."""
        self.next[partition] = max(self.next.get(partition, 0), offset + 1)

    def due(self, now: float) -> list[Key]:
        """The groups to write now: complete or overdue ones, or all of them in a backlog."""
        if self.rows >= self.max_rows:
            return list(self.groups)
        return [key for key, group in self.groups.items() if self._ready(key, group, now)]

    def take(self, keys: list[Key]) -> list[MinuteRow]:
        """The rows of ``keys`` (still held until ``settle``)."""
        return [row for key in keys for row in self.groups[key].rows.values()]

    def settle(self, keys: list[Key]) -> None:
        """``keys`` were written: forget their rows, remember their parts."""
        for key in keys:
            # A revoke writes what waits even while a write is on: a key may be settled twice.
            group = self.groups.pop(key, None)
            if group is not None:
                self.written.setdefault(key, set()).update(group.rows)
        horizon = self.newest - REMEMBER_MS
        self.written = {key: parts for key, parts in self.written.items() if key[1] >= horizon}

    def commit_offsets(self) -> dict[int, int]:
        """Per topic partition, the offset to commit: nothing before it is still waiting."""
        safe = dict(self.next)
        for group in self.groups.values():
            for partition, offset in group.firsts.items():
                safe[partition] = min(safe[partition], offset)
        return safe

    def _ready(self, key: Key, group: Group, now: float) -> bool:
        if now - group.since >= self.wait_parts_s:
            return True
        have = group.rows.keys() | self.written.get(key, set())
        return self.parts[key[0]] <= have
