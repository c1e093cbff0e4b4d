"""Live traffic of one partition: views, visitors and sessions per minute and per UTC day.

Minute windows follow event time (``stream.sketches.windows``); an event whose minute has closed is
counted as ``late`` and left out of the minute, but still counts for its day, pages and
session. Day figures belong to the UTC day of each event's ``ts``; per-session facts
(device, entry page and its external referrer host, bounce) belong to the day the session
was first seen. The entry page is the session's first ``page_view``. A minute also
counts the sessions whose first event falls in it and which of them bounce now (a later
page view can undo a bounce of a closed minute: the minute changes, and is sent again).

Bounce rule: a session bounces while it has exactly one ``page_view`` and no event other
than ``page_view``, ``page_leave``, ``web_vital`` or ``scroll``; ``bounce_rate`` is bounced
sessions over sessions first seen that day. A session idle for 30 minutes (server time)
is forgotten; if it comes back it starts a new session record.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from stream.metrics.minutes import Marks, closed, stale
from stream.metrics.traffic_tallies import Day, Minute
from stream.metrics.visits import (
    PASSIVE,
    SESSION_TIMEOUT_MS,
    Visit,
    merge_visits,
    referrer_host,
    site_host,
)
from stream.sketches import codec
from stream.sketches.counters import OTHER, bump, top
from stream.sketches.tally import Tally
from stream.sketches.uniques import LIBRARY as UNIQUES_LIBRARY
from stream.sketches.uniques import Uniques, fingerprint
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

MAX_URLS = 5000
TOP_K = 10


class TrafficState:
    """Mergeable, serialisable traffic aggregates of one partition."""

    def __init__(
        self,
        site_hosts: Iterable[str] = (),
        lateness_ms: int = DEFAULT_LATENESS_MS,
        max_urls: int = MAX_URLS,
    ) -> None:
        self.site_hosts = frozenset(site_host(h) for h in site_hosts)
        self.max_urls = max_urls
        self.clock = EventClock(MINUTE_MS, lateness_ms)
        self.minutes: dict[int, Minute] = {}
        self.days: dict[int, Day] = {}
        self.sessions: dict[str, Visit] = {}
        self.marks = Marks()

    def _day(self, start: int) -> Day:
        day = self.days.get(start)
        if day is None:
            day = self.days[start] = Day()
        return day

    def _session(self, batch: Mapping[str, Any], first_ts: int) -> Visit:
        sid, visitor = batch["session_id"], batch["visitor_id"]
        s = self.sessions.get(sid)
        if s is None:
            s = self.sessions[sid] = Visit(sid, visitor, day_start(first_ts), 0)
            start = window_start(first_ts)
            if not self.clock.is_closed(start):
                s.minute = start
                self.minutes.setdefault(start, Minute()).started += 1
                self.marks.touch(start)
            home = self._day(s.day)
            home.started += 1
            device = batch["device"]
            home.devices[device if device in home.devices else "unknown"] += 1
        elif s.visitor != visitor:
            s.visitor, s.hv = visitor, fingerprint(visitor)
            s.forget_cache()
        received = batch["received_at"]
        if received > s.last_seen:  # noqa: PLR1730 (hot path: a builtin call costs more)
            s.last_seen = received
        return s

    def _enter(self, s: Visit, entry: Mapping[str, Any]) -> None:
        s.entered = True
        home = self.days.get(s.day)
        if home is None:
            return
        bump(home.entries, entry["url"], 1, self.max_urls)
        host = referrer_host(entry.get("referrer") or "", self.site_hosts)
        if host:
            bump(home.referrers, host, 1, self.max_urls)

    def apply(self, batch: Mapping[str, Any], now_ms: int) -> None:
        """Fold one ``EventBatch`` dict into the aggregates."""
        events = batch["events"]
        if not events:
            return
        received = batch["received_at"]
        first_ts = events[0]["ts"]
        s = self._session(batch, first_ts)
        hv, hs, cap, days, minutes = s.hv, s.hs, self.max_urls, self.days, self.minutes
        day_key = first_ts - first_ts % DAY_MS
        day = days.get(day_key) or self._day(day_key)
        admit, touch = self.clock.admit, self.marks.touch
        minute: Minute | None = None
        for e in events:
            ts = e["ts"]
            if ts - ts % DAY_MS != day_key:
                day_key = ts - ts % DAY_MS
                day = days.get(day_key) or self._day(day_key)
            if day_key != s.day_seen:
                s.day_seen = day_key
                day.counts.visitors.add(hv)
                day.counts.sessions.add(hs)
            m = admit(ts, received)
            if m is None:
                minute = None
            else:
                minute = minutes.get(m)
                if minute is None:
                    minute = minutes[m] = Minute()
                touch(m)
                if m != s.minute_seen:
                    s.minute_seen = m
                    minute.visitors.add(hv)
                    minute.sessions.add(hs)
            etype = e["type"]
            if etype == "page_view":
                url = e["url"]
                day.counts.views += 1
                pages = day.pages
                if url in pages:
                    pages[url] += 1
                else:
                    bump(pages, url, 1, cap)
                if minute is not None:
                    minute.view(url if url in pages else OTHER)
                s.views += 1
                if not s.entered:
                    self._enter(s, e)
            elif etype not in PASSIVE:
                s.interacted = True
        if s.is_bounce != s.bounce:
            self._flip_bounce(s)

    def _flip_bounce(self, s: Visit) -> None:
        s.bounce = not s.bounce
        if (home := self.days.get(s.day)) is not None:
            home.bounces += 1 if s.bounce else -1
        if (minute := self.minutes.get(s.minute)) is not None:
            minute.bounces += 1 if s.bounce else -1
            self.marks.touch(s.minute)

    def _span(self, starts: Iterable[int]) -> dict[str, int]:
        views = 0
        visitors, sessions = Uniques(), Uniques()
        for start in starts:
            minute = self.minutes.get(start)
            if minute is not None:
                views += minute.views
                visitors.update(minute.visitors)
                sessions.update(minute.sessions)
        return {"views": views, "visitors": visitors.count(), "sessions": sessions.count()}

    def snapshot(self, now_ms: int) -> dict[str, Any]:
        """The live-feed traffic data as of ``now_ms``."""
        current = window_start(now_ms)
        last_5m = self._span(recent_windows(now_ms, 5))
        today = self.days.get(day_start(now_ms)) or Day()
        minutes = self.minutes
        return {
            "window": {"start": current, "end": current + MINUTE_MS},
            "active_visitors": last_5m["visitors"],
            "views_per_minute": [
                [m, minutes[m].views if m in minutes else 0] for m in recent_windows(now_ms, 60)
            ],
            "last_5m": last_5m,
            "last_hour": self._span(recent_windows(now_ms, 60)),
            "today": {
                "views": today.counts.views,
                "visitors": today.counts.visitors.count(),
                "sessions": today.counts.sessions.count(),
                "bounce_rate": today.bounces / today.started if today.started else 0.0,
            },
            "top_pages": top(today.pages, TOP_K, "url", "views"),
            "entry_pages": top(today.entries, TOP_K, "url", "sessions"),
            "referrers": top(today.referrers, TOP_K, "host", "sessions"),
            "devices": dict(today.devices),
            "late": self.clock.late,
        }

    def windows(self, now_ms: int) -> list[dict[str, Any]]:
        """Per-minute records of the last hour that saw events, oldest first."""
        out = []
        for start in recent_windows(now_ms, 60):
            if (m := self.minutes.get(start)) is not None:
                out.append({"window_start": start, "window_end": start + MINUTE_MS,
                            "views": m.views, "visitors": m.visitors.count(),
                            "sessions": m.sessions.count(),
                            "closed": self.clock.is_closed(start)})  # fmt: skip
        return out

    def expire(self, now_ms: int) -> None:
        """Forget idle sessions, closed minutes before today-1h and days before yesterday."""
        today = day_start(now_ms)
        old_minutes = stale(self.clock, self.minutes, today - HOUR_MS, now_ms)
        self.marks.forget(old_minutes)
        old_days = [d for d in self.days if d < today - DAY_MS]
        for start in old_minutes:
            del self.minutes[start]
        for start in old_days:
            del self.days[start]
        idle = now_ms - SESSION_TIMEOUT_MS
        for sid in [k for k, s in self.sessions.items() if s.last_seen <= idle]:
            del self.sessions[sid]
        if old_minutes or old_days:
            for s in self.sessions.values():
                s.forget_cache()

    def minute_tally(self, start: int) -> Tally | None:
        """What history keeps of the minute at ``start`` (None when it holds nothing)."""
        minute = self.minutes.get(start)
        return None if minute is None else minute.tally()

    def closed_minutes(self) -> list[int]:
        """Starts of the minutes held that are closed on the event clock, oldest first."""
        return closed(self.clock, self.minutes)

    def merge(self, other: TrafficState, *, sessions: bool = True) -> TrafficState:
        """A new state holding both partitions' aggregates (``sessions=False``: for display).

        Snapshots never read per-session facts, so a merge made only to be shown can skip
        copying them; such a state must not be applied to or checkpointed.
        """
        out = TrafficState((), self.clock.lateness_ms, max(self.max_urls, other.max_urls))
        out.site_hosts = self.site_hosts | other.site_hosts
        out.clock = self.clock.merge(other.clock)
        empty_minute, empty_day = Minute(), Day()
        for key in self.minutes.keys() | other.minutes.keys():
            m = self.minutes.get(key, empty_minute)
            out.minutes[key] = m.merged(other.minutes.get(key, empty_minute))
        for key in self.days.keys() | other.days.keys():
            d = self.days.get(key, empty_day)
            out.days[key] = d.merged(other.days.get(key, empty_day), out.max_urls)
        if not sessions:
            return out
        out.sessions = {sid: s.copy() for sid, s in self.sessions.items()}
        for sid, s in other.sessions.items():
            mine = out.sessions.get(sid)
            out.sessions[sid] = s.copy() if mine is None else merge_visits(mine, s)
        return out

    def to_bytes(self) -> bytes:
        """A checkpoint (``stream.sketches.codec``); unique counters hold datasketch's registers."""
        raw = {
            "hosts": sorted(self.site_hosts),
            "max_urls": self.max_urls,
            "clock": self.clock.to_list(),
            "minutes": {str(k): m.encode_window() for k, m in self.minutes.items()},
            "days": {str(k): d.encode() for k, d in self.days.items()},
            "sessions": {sid: s.encode() for sid, s in self.sessions.items()},
        }
        return codec.encode("traffic", 2, raw, libraries=(UNIQUES_LIBRARY,))

    @classmethod
    def from_bytes(cls, data: bytes) -> TrafficState:
        """Rebuild a state written by ``to_bytes`` (or by the codec-less format before it)."""
        # v1 rows lack a minute's session facts and a visit's minute; the rows say which.
        return codec.decode("traffic", data, {1: cls._read, 2: cls._read})

    @classmethod
    def _read(cls, raw: dict[str, Any]) -> TrafficState:
        clock = EventClock.from_list(raw["clock"])
        out = cls(raw["hosts"], clock.lateness_ms, raw["max_urls"])
        out.clock = clock
        out.minutes = {int(k): Minute.decode(row) for k, row in raw["minutes"].items()}
        out.days = {int(k): Day.decode(row) for k, row in raw["days"].items()}
        out.sessions = {sid: Visit.decode(sid, row) for sid, row in raw["sessions"].items()}
        return out
