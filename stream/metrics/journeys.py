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
60 minute windows up to ``now``. Minutes follow the partition's event clock: a page view
whose minute has closed counts for its day only; a session ending later adds its exit to
its last view's minute while that minute is held (changing a closed minute, which is then
sent to history again), and to its day only once the minute is gone.

Distinct keys are capped per window (``counters.bump``); what falls beyond a cap is counted
under ``overflow`` so totals stay exact.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stream.metrics.journey_counts import KINDS, Counts, Walk, sum_counts
from stream.metrics.minutes import Marks, advance, closed, stale
from stream.metrics.visits import SESSION_TIMEOUT_MS
from stream.sketches import codec
from stream.sketches.counters import OTHER, bump, top
from stream.sketches.tally import Tally
from stream.sketches.windows import (
    DAY_MS,
    DEFAULT_LATENESS_MS,
    HOUR_MS,
    MINUTE_MS,
    EventClock,
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
_TOTALS = ("entries", "exits", "transitions", "loops")  # a minute's history: totals only


def _split(key: str) -> list[str]:
    return key.split(SEP)


class JourneysState:
    """Mergeable, serialisable journey aggregates of one partition."""

    def __init__(
        self, day_cap: int = DAY_CAP, minute_cap: int = MINUTE_CAP,
        lateness_ms: int = DEFAULT_LATENESS_MS,
    ) -> None:  # fmt: skip
        self.day_cap = day_cap
        self.minute_cap = minute_cap
        self.clock = EventClock(MINUTE_MS, lateness_ms)
        self.marks = Marks()
        self.days: dict[int, Counts] = {}
        self.minutes: dict[int, Counts] = {}
        self.walks: dict[str, Walk] = {}
        self.walks_left_out = 0  # live walks a display merge counted but did not copy

    def _windows(self, ts: int, *, ending: bool = False) -> tuple[Counts, Counts | None]:
        """The day and minute of ``ts``; no minute for a view in a closed one (late).

        An ending session adds to its minute only while it is held: one made again now
        would hold nothing but the exit, and replace the whole minute in history.
        """
        day, minute = ts - ts % DAY_MS, ts - ts % MINUTE_MS
        d = self.days.get(day)
        if d is None:
            d = self.days[day] = Counts()
        m = self.minutes.get(minute)
        if m is None and not ending and not self.clock.is_closed(minute):
            m = self.minutes[minute] = Counts()
        elif m is not None and not ending and self.clock.is_closed(minute):
            m = None
        if m is not None:
            self.marks.touch(minute)
        return d, m

    def apply(self, batch: Mapping[str, Any], now_ms: int) -> None:
        """Fold the page views of one ``EventBatch`` dict into the journeys."""
        walk: Walk | None = None
        dcap, mcap = self.day_cap, self.minute_cap
        for e in batch["events"]:
            if e["type"] != "page_view":
                continue
            if walk is None:
                sid = batch["session_id"]
                walk = self.walks.get(sid)
                if walk is None:
                    walk = self.walks[sid] = Walk(batch["received_at"])
            url, ts = e["url"], e["ts"]
            day, minute = self._windows(ts)
            minute = minute or Counts()  # a late view's minute: counted, then dropped
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
        if batch["events"]:  # every event moves the clock, so minutes close without views
            advance(self.clock, batch["events"][-1]["ts"], batch["received_at"])

    def _end(self, walk: Walk) -> None:
        day, minute = self._windows(walk.last_ts, ending=True)
        path = " > ".join(walk.path)
        exit_url = walk.prev
        windows = [(day, self.day_cap)] + ([(minute, self.minute_cap)] if minute else [])
        for counts, cap in windows:
            bump(counts.exits, exit_url, 1, cap)
            bump(counts.paths, path, 1, cap)
            counts.ended += 1
            counts.views += walk.views

    def expire(self, now_ms: int) -> None:
        """End sessions idle for 30 minutes; forget minutes before the last hour, old days."""
        idle = now_ms - SESSION_TIMEOUT_MS
        for sid in [k for k, w in self.walks.items() if w.last_seen <= idle]:
            self._end(self.walks.pop(sid))
        old = stale(self.clock, self.minutes, window_start(now_ms) - HOUR_MS, now_ms)
        for start in old:
            del self.minutes[start]
        self.marks.forget(old)
        today = day_start(now_ms)
        # Days far in the future come from clocks that are wrong; they would never age.
        for start in [d for d in self.days if not today - DAY_MS <= d <= today + DAY_MS]:
            del self.days[start]

    def _report(self, c: Counts, k: int, k_transitions: int) -> dict[str, Any]:
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
            "overflow": {kind: getattr(c, kind).get(OTHER, 0) for kind in KINDS},
        }

    def snapshot(self, now_ms: int) -> dict[str, Any]:
        """Today's (UTC) journeys and a smaller last-hour view, as of ``now_ms``."""
        today = self.days.get(day_start(now_ms)) or Counts()
        hour = sum_counts(
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
            max(self.day_cap, other.day_cap), max(self.minute_cap, other.minute_cap),
            self.clock.lateness_ms,
        )  # fmt: skip
        out.clock = self.clock.merge(other.clock)
        empty = Counts()
        for mine, theirs, target, cap in (
            (self.days, other.days, out.days, out.day_cap),
            (self.minutes, other.minutes, out.minutes, out.minute_cap),
        ):
            for key in mine.keys() | theirs.keys():
                target[key] = mine.get(key, empty).merged(theirs.get(key, empty), cap)
        if sessions:
            # A session lives on one partition, so the walks of two partitions never overlap.
            for walks in (self.walks, other.walks):
                out.walks.update({sid: Walk(*w.encode()) for sid, w in walks.items()})
            for w in out.walks.values():
                w.path = list(w.path)  # encode() shares the list; the copy must not
        else:
            out.walks_left_out = (
                len(self.walks) + self.walks_left_out + len(other.walks) + other.walks_left_out
            )
        return out

    def minute_tally(self, start: int) -> Tally | None:
        """What history keeps of the minute at ``start``: totals (None when it holds nothing)."""
        c = self.minutes.get(start)
        if c is None:
            return None
        counts: dict[str, float] = {k: sum(getattr(c, k).values()) for k in _TOTALS}
        counts.update(sessions_ended=c.ended, path_views=c.views)
        return Tally(counts)

    def closed_minutes(self) -> list[int]:
        """Starts of the minutes held that are closed on the event clock, oldest first."""
        return closed(self.clock, self.minutes)

    def to_bytes(self) -> bytes:
        """A checkpoint (``stream.sketches.codec``)."""
        raw = {
            "caps": [self.day_cap, self.minute_cap],
            "days": {str(k): c.encode() for k, c in self.days.items()},
            "minutes": {str(k): c.encode() for k, c in self.minutes.items()},
            "walks": {sid: w.encode() for sid, w in self.walks.items()},
            "clock": self.clock.to_list(),
        }
        return codec.encode("journeys", 2, raw)

    @classmethod
    def from_bytes(cls, data: bytes) -> JourneysState:
        """Rebuild a state written by ``to_bytes`` (or by the codec-less format before it)."""
        return codec.decode("journeys", data, {1: cls._read_v1, 2: cls._read_v2})

    @classmethod
    def _read_v2(cls, raw: dict[str, Any]) -> JourneysState:
        out = cls._read_v1(raw)
        out.clock = EventClock.from_list(raw["clock"])
        return out

    @classmethod
    def _read_v1(cls, raw: dict[str, Any]) -> JourneysState:
        # v1 had no clock: its minutes read as open until events move a new one past them.
        out = cls(*raw["caps"])
        out.days = {int(k): Counts.decode(row) for k, row in raw["days"].items()}
        out.minutes = {int(k): Counts.decode(row) for k, row in raw["minutes"].items()}
        out.walks = {sid: Walk(*row) for sid, row in raw["walks"].items()}
        return out


def _real(counts: Mapping[str, int]) -> dict[str, int]:
    return {k: n for k, n in counts.items() if k != OTHER}
