"""User journeys of one partition: page transitions, entries, exits, common paths and loops.

Definitions (exact up to the caps below; only ``page_view`` events count, in arrival order,
which is sending order because a session's batches stay on one partition in order):

- a *transition* ``a -> b`` is two consecutive page views of a session (reloads ``a -> a``
  included), counted at the second view's ``ts``;
- the *entry* page is a session's first page view, counted at its ``ts``;
- a *loop* ``a > b > a`` is three consecutive page views with ``a != b``, counted at the
  third view's ``ts``;
- a session *ends* once it has been idle for 30 minutes (server time: no batch received),
  found by ``expire``. Then its last page view gives the *exit* page, its first four page
  views give its *path* (``"a > b > c > d"``, fewer pages for shorter visits) and its page
  views count towards ``avg_path_length`` (page views per ended session); all at the
  ``ts`` of its last page view. Sessions without page views are not journeys.

Counts belong to the UTC day and the 1-minute window of those times; "last hour" sums the
60 minute windows up to ``now``. Distinct keys are capped per window (``counters.bump``);
what falls beyond a cap is counted under ``overflow`` so totals stay exact.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from stream.metrics.visits import SESSION_TIMEOUT_MS
from stream.sketches import codec
from stream.sketches.counters import OTHER, bump, merge_counts, top
from stream.sketches.windows import (
    DAY_MS,
    HOUR_MS,
    MINUTE_MS,
    day_start,
    recent_windows,
    window_start,
)

SEP = "\t"  # joins urls in counter keys: normalised urls never hold a tab
PATH_PAGES = 4
DAY_CAP = 5000
MINUTE_CAP = 500
TOP_TRANSITIONS = 50
TOP_K = 10
_KINDS = ("transitions", "entries", "exits", "paths", "loops")


@dataclass(slots=True)
class _Counts:
    """Journey counters of one window (a minute or a day)."""

    transitions: dict[str, int] = field(default_factory=dict)
    entries: dict[str, int] = field(default_factory=dict)
    exits: dict[str, int] = field(default_factory=dict)
    paths: dict[str, int] = field(default_factory=dict)
    loops: dict[str, int] = field(default_factory=dict)
    ended: int = 0  # sessions that ended here
    views: int = 0  # page views of those sessions

    def merged(self, other: _Counts, cap: int) -> _Counts:
        return _Counts(
            merge_counts(self.transitions, other.transitions, cap),
            merge_counts(self.entries, other.entries, cap),
            merge_counts(self.exits, other.exits, cap),
            merge_counts(self.paths, other.paths, cap),
            merge_counts(self.loops, other.loops, cap),
            self.ended + other.ended,
            self.views + other.views,
        )

    def encode(self) -> list[Any]:
        return [*(getattr(self, k) for k in _KINDS), self.ended, self.views]

    @classmethod
    def decode(cls, row: list[Any]) -> _Counts:
        return cls(*row)


@dataclass(slots=True)
class _Walk:
    """What a live session's journey needs to remember."""

    last_seen: int  # server time of its latest batch
    views: int = 0
    last_ts: int = 0  # ts of its latest page view
    path: list[str] = field(default_factory=list)  # first PATH_PAGES urls
    prev: str = ""
    prev2: str = ""

    def encode(self) -> list[Any]:
        return [self.last_seen, self.views, self.last_ts, self.path, self.prev, self.prev2]


def _sum(counts: Iterable[_Counts], cap: int) -> _Counts:
    totals: dict[str, dict[str, int]] = {kind: {} for kind in _KINDS}
    ended = views = 0
    for c in counts:
        for kind, total in totals.items():
            for key, n in getattr(c, kind).items():
                total[key] = total.get(key, 0) + n
        ended += c.ended
        views += c.views
    # Summed uncapped first, then trimmed once: one sort instead of one per window.
    transitions, entries, exits, paths, loops = (
        merge_counts(totals[kind], {}, cap) for kind in _KINDS
    )
    return _Counts(transitions, entries, exits, paths, loops, ended, views)


def _split(key: str) -> list[str]:
    return key.split(SEP)


class JourneysState:
    """Mergeable, serialisable journey aggregates of one partition."""

    def __init__(self, day_cap: int = DAY_CAP, minute_cap: int = MINUTE_CAP) -> None:
        self.day_cap = day_cap
        self.minute_cap = minute_cap
        self.days: dict[int, _Counts] = {}
        self.minutes: dict[int, _Counts] = {}
        self.walks: dict[str, _Walk] = {}
        self.walks_left_out = 0  # live walks a display merge counted but did not copy

    def _windows(self, ts: int) -> tuple[_Counts, _Counts]:
        day, minute = ts - ts % DAY_MS, ts - ts % MINUTE_MS
        d = self.days.get(day)
        if d is None:
            d = self.days[day] = _Counts()
        m = self.minutes.get(minute)
        if m is None:
            m = self.minutes[minute] = _Counts()
        return d, m

    def apply(self, batch: Mapping[str, Any], now_ms: int) -> None:
        """Fold the page views of one ``EventBatch`` dict into the journeys."""
        walk: _Walk | None = None
        dcap, mcap = self.day_cap, self.minute_cap
        for e in batch["events"]:
            if e["type"] != "page_view":
                continue
            if walk is None:
                sid = batch["session_id"]
                walk = self.walks.get(sid)
                if walk is None:
                    walk = self.walks[sid] = _Walk(batch["received_at"])
            url, ts = e["url"], e["ts"]
            day, minute = self._windows(ts)
            if walk.views == 0:
                bump(day.entries, url, 1, dcap)
                bump(minute.entries, url, 1, mcap)
            else:
                key = walk.prev + SEP + url
                bump(day.transitions, key, 1, dcap)
                bump(minute.transitions, key, 1, mcap)
                if walk.prev2 == url and walk.prev != url:
                    key = url + SEP + walk.prev
                    bump(day.loops, key, 1, dcap)
                    bump(minute.loops, key, 1, mcap)
            walk.views += 1
            walk.last_ts = ts
            if len(walk.path) < PATH_PAGES:
                walk.path.append(url)
            walk.prev2, walk.prev = walk.prev, url
        # Any batch keeps the session alive, not only those with page views.
        if walk is None:
            walk = self.walks.get(batch["session_id"])
        if walk is not None and batch["received_at"] > walk.last_seen:
            walk.last_seen = batch["received_at"]

    def _end(self, walk: _Walk) -> None:
        day, minute = self._windows(walk.last_ts)
        path = " > ".join(walk.path)
        exit_url = walk.prev
        for counts, cap in ((day, self.day_cap), (minute, self.minute_cap)):
            bump(counts.exits, exit_url, 1, cap)
            bump(counts.paths, path, 1, cap)
            counts.ended += 1
            counts.views += walk.views

    def expire(self, now_ms: int) -> None:
        """End sessions idle for 30 minutes; forget minutes before the last hour, old days."""
        idle = now_ms - SESSION_TIMEOUT_MS
        for sid in [k for k, w in self.walks.items() if w.last_seen <= idle]:
            self._end(self.walks.pop(sid))
        oldest = window_start(now_ms) - HOUR_MS
        today = day_start(now_ms)
        # Windows far in the future come from clocks that are wrong; they would never age.
        for start in [m for m in self.minutes if not oldest <= m <= now_ms + DAY_MS]:
            del self.minutes[start]
        for start in [d for d in self.days if not today - DAY_MS <= d <= today + DAY_MS]:
            del self.days[start]

    def _report(self, c: _Counts, k: int, k_transitions: int) -> dict[str, Any]:
        transitions = [
            {"from": a, "to": b, "count": n}
            for a, b, n in (
                (*_split(row["key"]), row["n"])
                for row in top(_real(c.transitions), k_transitions, "key", "n")
            )
        ]
        loops = [
            {"pages": [a, b, a], "count": row["n"]}
            for row in top(_real(c.loops), k, "key", "n")
            for a, b in [_split(row["key"])]
        ]
        return {
            "transitions": transitions,
            "entries": top(_real(c.entries), k, "url", "sessions"),
            "exits": top(_real(c.exits), k, "url", "sessions"),
            "paths": top(_real(c.paths), k, "path", "sessions"),
            "loops": loops,
            "avg_path_length": c.views / c.ended if c.ended else 0.0,
            "sessions_ended": c.ended,
            "overflow": {kind: getattr(c, kind).get(OTHER, 0) for kind in _KINDS},
        }

    def snapshot(self, now_ms: int) -> dict[str, Any]:
        """Today's (UTC) journeys and a smaller last-hour view, as of ``now_ms``."""
        today = self.days.get(day_start(now_ms)) or _Counts()
        hour = _sum(
            (self.minutes[m] for m in recent_windows(now_ms, 60) if m in self.minutes),
            self.day_cap,
        )
        out = self._report(today, TOP_K, TOP_TRANSITIONS)
        out["live_sessions"] = len(self.walks) + self.walks_left_out
        out["last_hour"] = self._report(hour, 5, TOP_K * 2)
        return out

    def merge(self, other: JourneysState, *, sessions: bool = True) -> JourneysState:
        """A new state of both partitions (``sessions=False`` skips live walks: display only)."""
        out = JourneysState(
            max(self.day_cap, other.day_cap), max(self.minute_cap, other.minute_cap)
        )
        empty = _Counts()
        for mine, theirs, target, cap in (
            (self.days, other.days, out.days, out.day_cap),
            (self.minutes, other.minutes, out.minutes, out.minute_cap),
        ):
            for key in mine.keys() | theirs.keys():
                target[key] = mine.get(key, empty).merged(theirs.get(key, empty), cap)
        if sessions:
            # A session lives on one partition, so the walks of two partitions never overlap.
            for walks in (self.walks, other.walks):
                out.walks.update({sid: _Walk(*w.encode()) for sid, w in walks.items()})
            for w in out.walks.values():
                w.path = list(w.path)  # encode() shares the list; the copy must not
        else:
            out.walks_left_out = (
                len(self.walks) + self.walks_left_out + len(other.walks) + other.walks_left_out
            )
        return out

    def to_bytes(self) -> bytes:
        """A checkpoint (``stream.sketches.codec``)."""
        raw = {
            "caps": [self.day_cap, self.minute_cap],
            "days": {str(k): c.encode() for k, c in self.days.items()},
            "minutes": {str(k): c.encode() for k, c in self.minutes.items()},
            "walks": {sid: w.encode() for sid, w in self.walks.items()},
        }
        return codec.encode("journeys", 1, raw)

    @classmethod
    def from_bytes(cls, data: bytes) -> JourneysState:
        """Rebuild a state written by ``to_bytes`` (or by the codec-less format before it)."""
        return codec.decode("journeys", data, {1: cls._read_v1})

    @classmethod
    def _read_v1(cls, raw: dict[str, Any]) -> JourneysState:
        out = cls(*raw["caps"])
        out.days = {int(k): _Counts.decode(row) for k, row in raw["days"].items()}
        out.minutes = {int(k): _Counts.decode(row) for k, row in raw["minutes"].items()}
        out.walks = {sid: _Walk(*row) for sid, row in raw["walks"].items()}
        return out


def _real(counts: Mapping[str, int]) -> dict[str, int]:
    return {k: n for k, n in counts.items() if k != OTHER}
