"""Traffic tallies: what the traffic state counts per minute window and per UTC day.

Each tally merges with another of the same window (partitions, restarts) and encodes to a
JSON-able row for the state's checkpoint; distinct visitors and sessions are ``Uniques``.
A minute also counts the sessions that started in it, those of them bouncing now, and its
page views per page the day tracks (``pages``): what history keeps of it (``Minute.tally``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stream.sketches.codec import from_text, to_text
from stream.sketches.counters import merge_counts
from stream.sketches.tally import Tally
from stream.sketches.uniques import Uniques

DEVICES = ("mobile", "tablet", "desktop", "unknown")


@dataclass(slots=True)
class Minute:
    """Views, visitors and sessions of one window; distinct counts are mergeable sketches.

    ``started``, ``bounces`` and ``pages`` are kept for minute windows only (a day keeps
    its own session facts in ``Day``).
    """

    views: int = 0
    visitors: Uniques = field(default_factory=Uniques)
    sessions: Uniques = field(default_factory=Uniques)
    started: int = 0  # sessions whose first event falls in this minute
    bounces: int = 0  # of those, the ones bouncing now
    pages: dict[str, int] = field(default_factory=dict)  # views per page the day tracks

    def view(self, page: str) -> None:
        """Count one page view of ``page`` (a page the day tracks, or ``OTHER``)."""
        self.views += 1
        pages = self.pages
        pages[page] = pages[page] + 1 if page in pages else 1

    def merged(self, other: Minute) -> Minute:
        """The sum of two windows."""
        visitors, sessions = (
            self.visitors.merge(other.visitors),
            self.sessions.merge(other.sessions),
        )
        pages = dict(self.pages)
        for url, n in other.pages.items():
            pages[url] = pages.get(url, 0) + n
        started, bounces = self.started + other.started, self.bounces + other.bounces
        return Minute(self.views + other.views, visitors, sessions, started, bounces, pages)

    def encode(self) -> list[Any]:
        """A JSON-able row for a checkpoint (views, visitors, sessions: a day's counts)."""
        return [self.views, to_text(self.visitors.to_bytes()), to_text(self.sessions.to_bytes())]

    def encode_window(self) -> list[Any]:
        """A minute window's row: ``encode`` and the window's session facts and pages."""
        return [*self.encode(), self.started, self.bounces, self.pages]

    @classmethod
    def decode(cls, row: list[Any]) -> Minute:
        """Inverse of ``encode`` and of ``encode_window`` (rows of v1 checkpoints lack facts)."""
        visitors, sessions = (Uniques.from_bytes(from_text(text)) for text in row[1:3])
        started, bounces, pages = row[3:6] if len(row) > 3 else (0, 0, {})
        return cls(row[0], visitors, sessions, started, bounces, dict(pages))

    def tally(self) -> Tally:
        """What history keeps of this minute (``docs/topics.md``, history.minutes)."""
        counts: dict[str, float] = {
            "views": self.views,
            "sessions_started": self.started,
            "bounces": self.bounces,
        }
        for url, n in self.pages.items():
            counts["pages." + url] = n
        uniques = {"visitors": self.visitors.copy(), "sessions": self.sessions.copy()}
        return Tally(counts, uniques)


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
