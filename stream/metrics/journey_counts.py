"""Journey counts: what the journeys state counts per window, and what it keeps per session.

``Counts`` holds one window's (a minute's or a day's) capped counters; ``Walk`` a live
session's journey so far. Both encode to JSON-able rows for the state's checkpoint.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from stream.sketches.counters import merge_counts

KINDS = ("transitions", "entries", "exits", "paths", "loops")


@dataclass(slots=True)
class Counts:
    """Journey counters of one window (a minute or a day)."""

    transitions: dict[str, int] = field(default_factory=dict)
    entries: dict[str, int] = field(default_factory=dict)
    exits: dict[str, int] = field(default_factory=dict)
    paths: dict[str, int] = field(default_factory=dict)
    loops: dict[str, int] = field(default_factory=dict)
    ended: int = 0  # sessions that ended here
    views: int = 0  # page views of those sessions

    def merged(self, other: Counts, cap: int) -> Counts:
        """The sum of two windows, each counter capped at ``cap`` keys."""
        return Counts(
            merge_counts(self.transitions, other.transitions, cap),
            merge_counts(self.entries, other.entries, cap),
            merge_counts(self.exits, other.exits, cap),
            merge_counts(self.paths, other.paths, cap),
            merge_counts(self.loops, other.loops, cap),
            self.ended + other.ended,
            self.views + other.views,
        )

    def encode(self) -> list[Any]:
        """A JSON-able row for a checkpoint."""
        return [*(getattr(self, k) for k in KINDS), self.ended, self.views]

    @classmethod
    def decode(cls, row: list[Any]) -> Counts:
        """Inverse of ``encode``."""
        return cls(*row)


@dataclass(slots=True)
class Walk:
    """What a live session's journey needs to remember."""

    last_seen: int  # server time of its latest batch
    views: int = 0
    last_ts: int = 0  # ts of its latest page view
    path: list[str] = field(default_factory=list)  # first PATH_PAGES urls
    prev: str = ""
    prev2: str = ""

    def encode(self) -> list[Any]:
        """Plain values for a checkpoint (``Walk(*row)`` reads them back)."""
        return [self.last_seen, self.views, self.last_ts, self.path, self.prev, self.prev2]


def sum_counts(counts: Iterable[Counts], cap: int) -> Counts:
    """The sum of many windows, capped at ``cap`` keys per counter."""
    totals: dict[str, dict[str, int]] = {kind: {} for kind in KINDS}
    ended = views = 0
    for c in counts:
        for kind, total in totals.items():
            for key, n in getattr(c, kind).items():
                total[key] = total.get(key, 0) + n
        ended += c.ended
        views += c.views
    # Summed uncapped first, then trimmed once: one sort instead of one per window.
    transitions, entries, exits, paths, loops = (
        merge_counts(totals[kind], {}, cap) for kind in KINDS
    )
    return Counts(transitions, entries, exits, paths, loops, ended, views)
