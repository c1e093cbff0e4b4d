"""The engagement channel's view of live sessions, kept as their scores change.

The snapshot, published about once a second, shows the live sessions' scores as a histogram,
the same per content area, and the top sessions. Built by a pass over every live session,
it cost about 0.2 s of each second on a million-event day (34,000 live sessions:
``bench/learning_apply.py``). ``LiveScores`` keeps counts per (score tenth, area, score
fifth) and the sessions of each tenth as each batch moves a score, so a snapshot reads the
counts, the sessions gone idle but not yet closed (the first ones: sessions are kept in idle
order, ``stream.learning.learners.pop_idle``) and only the highest tenths for the top.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Mapping
from typing import Protocol

from stream.learning.scoring import content_area
from stream.metrics.dojo_engagement import AREAS

TOP_SESSIONS = 20

Key = tuple[int, str, int]  # (score tenth 0-9, content area, score fifth 0-4)


class Scored(Protocol):
    """What the view reads of a live session."""

    last_seen: int
    score: float
    entry: str


def key_of(session: Scored) -> Key:
    """Where a session counts: its histogram bar, its area and its bar within the area."""
    score = session.score
    return (min(int(score // 10), 9), content_area(session.entry), min(int(score // 20), 4))


class LiveScores:
    """Counts and members of every session the learner holds, by score bar and area."""

    def __init__(self) -> None:
        self.keys: dict[str, Key] = {}
        self.counts: Counter[Key] = Counter()
        self.tenths: dict[int, set[str]] = {}
        self.built = True

    def __getstate__(self) -> dict[str, bool]:
        # Derived from the sessions: a checkpoint holds none of it, a restore counts again.
        return {"built": False}

    @classmethod
    def of(cls, sessions: Mapping[str, Scored]) -> LiveScores:
        """The view of ``sessions`` (for a state restored from before the view existed)."""
        out = cls()
        for sid, session in sessions.items():
            out.put(sid, session)
        return out

    def put(self, sid: str, session: Scored) -> None:
        """Count ``session`` where its score and entry page put it now."""
        key = key_of(session)
        old = self.keys.get(sid)
        if old == key:
            return
        if old is not None:
            self._uncount(sid, old)
        self.keys[sid] = key
        self.counts[key] += 1
        self.tenths.setdefault(key[0], set()).add(sid)

    def drop(self, sid: str) -> None:
        """Forget a closed session."""
        old = self.keys.pop(sid, None)
        if old is not None:
            self._uncount(sid, old)

    def _uncount(self, sid: str, key: Key) -> None:
        self.counts[key] -= 1
        if not self.counts[key]:
            del self.counts[key]
        members = self.tenths[key[0]]
        members.discard(sid)
        if not members:
            del self.tenths[key[0]]

    def view(
        self, sessions: Mapping[str, Scored], now_ms: int, timeout_ms: int
    ) -> tuple[list[int], dict[str, list[int]], list[str]]:
        """Histogram, histogram per area and the ids of the top sessions, of those live at
        ``now_ms``; ``sessions`` are the ones counted, in idle order."""
        idle: set[str] = set()
        for sid, session in sessions.items():
            if now_ms - session.last_seen < timeout_ms:
                break
            idle.add(sid)
        counts = self.counts.copy()
        counts.subtract(self.keys[sid] for sid in idle)
        histogram, by_area = [0] * 10, {area: [0] * 5 for area in AREAS}
        for (tenth, area, fifth), n in counts.items():
            histogram[tenth] += n
            by_area[area][fifth] += n
        # Every score of a higher tenth beats every score of a lower one: the top sessions
        # are among the highest tenths that hold at least as many live sessions.
        candidates: list[str] = []
        for tenth in sorted(self.tenths, reverse=True):
            candidates += [sid for sid in self.tenths[tenth] if sid not in idle]
            if len(candidates) >= TOP_SESSIONS:
                break
        top = heapq.nsmallest(TOP_SESSIONS, candidates, key=lambda s: (-sessions[s].score, s))
        return histogram, by_area, top
