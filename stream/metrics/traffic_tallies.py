"""Traffic tallies: what the traffic state counts per minute window and per UTC day.

Each tally merges with another of the same window (partitions, restarts) and encodes to a
JSON-able row for the state's checkpoint; distinct visitors and sessions are ``Uniques``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stream.sketches.codec import from_text, to_text
from stream.sketches.counters import merge_counts
from stream.sketches.uniques import Uniques

DEVICES = ("mobile", "tablet", "desktop", "unknown")


@dataclass(slots=True)
class Minute:
    """Views, visitors and sessions of one window; distinct counts are mergeable sketches."""

    views: int = 0
    visitors: Uniques = field(default_factory=Uniques)
    sessions: Uniques = field(default_factory=Uniques)

    def merged(self, other: Minute) -> Minute:
        """The sum of two windows."""
        visitors, sessions = (
            self.visitors.merge(other.visitors),
            self.sessions.merge(other.sessions),
        )
        return Minute(self.views + other.views, visitors, sessions)

    def encode(self) -> list[Any]:
        """A JSON-able row for a checkpoint."""
        return [self.views, to_text(self.visitors.to_bytes()), to_text(self.sessions.to_bytes())]

    @classmethod
    def decode(cls, row: list[Any]) -> Minute:
        """Inverse of ``encode``."""
        visitors, sessions = (Uniques.from_bytes(from_text(text)) for text in row[1:3])
        return cls(row[0], visitors, sessions)


@dataclass(slots=True)
class Day:
    """One UTC day: its counts, session facts and capped page, entry and referrer tallies."""

    counts: Minute = field(default_factory=Minute)  # views, visitors, sessions of the day
    started: int = 0  # sessions first seen this day (exact: a session lives on one partition)
    bounces: int = 0
    pages: dict[str, int] = field(default_factory=dict)
    entries: dict[str, int] = field(default_factory=dict)
    referrers: dict[str, int] = field(default_factory=dict)
    devices: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DEVICES, 0))

    def merged(self, other: Day, cap: int) -> Day:
        """The sum of two days, each tally capped at ``cap`` keys."""
        return Day(
            self.counts.merged(other.counts),
            self.started + other.started,
            self.bounces + other.bounces,
            merge_counts(self.pages, other.pages, cap),
            merge_counts(self.entries, other.entries, cap),
            merge_counts(self.referrers, other.referrers, cap),
            {k: self.devices[k] + other.devices[k] for k in DEVICES},
        )

    def encode(self) -> list[Any]:
        """A JSON-able row for a checkpoint."""
        facts = [self.started, self.bounces, self.pages, self.entries, self.referrers]
        return [*self.counts.encode(), *facts, self.devices]

    @classmethod
    def decode(cls, row: list[Any]) -> Day:
        """Inverse of ``encode``."""
        return cls(Minute.decode(row[:3]), *row[3:])
