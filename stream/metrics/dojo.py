"""Dojo figures of one partition: registrations, attendance and resources, exact and mergeable.

Per dojo event (the catalogue's item id): registrations, tickets, cancellations, tickets
given back, registered heads arrived and walk-ins (``attendance.count``, default 1), and the
net tickets per UTC day (the registration curve the forecast learns from). Per resource
(``resource:<slug>``): page views of ``/resources/<slug>`` and downloads, and the same per
hour for the last two days (trending). Per registration, its session's source: entry page
path, the entry's referrer host (``(direct)``) and ``utm_campaign`` (``(none)``); a session's
entry is forgotten 30 minutes after its last batch. No person is held: counts per item only,
sessions by their id only while they last. Definitions match ``dojo_pulse.simulation.dojo_truth``.
Sessions, engaged sessions and returning visitors per day: ``stream.metrics.dojo_engagement``;
the registration funnel per event: ``stream.metrics.dojo_funnel`` (both from checkpoint
version 2; a version 1 checkpoint restores with none counted yet).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from stream.metrics.dojo_engagement import Engagement
from stream.metrics.dojo_funnel import Funnels
from stream.metrics.dojo_rows import event_rows, resource_rows
from stream.metrics.minutes import Marks, advance, closed, stale
from stream.metrics.visits import SESSION_TIMEOUT_MS
from stream.sketches import codec, uniques
from stream.sketches.counters import OTHER, bump, merge_counts, top
from stream.sketches.tally import Tally
from stream.sketches.windows import (
    DAY_MS,
    DEFAULT_LATENESS_MS,
    HOUR_MS,
    MINUTE_MS,
    EventClock,
    window_start,
)

EVENT_FIELDS = ("registrations", "tickets", "cancellations", "cancelled", "arrived", "walk_ins")
RESOURCE_FIELDS = ("views", "downloads")
SOURCES = ("entry", "referrer", "campaign")
MAX_ITEMS = 500  # catalogue items per partition; beyond them counts go to "(other)"
MAX_SOURCES = 200
TREND_HOURS = 48
KEEP_ITEM_MS = 400 * DAY_MS  # an item unchanged this long is forgotten (past a school year)
_DOJO = frozenset({"registration", "registration_cancel", "attendance"})
_NO_SOURCE = ("(unknown)", "(direct)", "(none)")


def resource_of(url: str) -> str | None:
    """The catalogue id of a resource page (``/resources/<slug>`` -> ``resource:<slug>``)."""
    path = urlsplit(url).path
    if path.startswith("/resources/") and path.count("/") == 2 and len(path) > 11:
        return f"resource:{path[11:]}"
    return None


def source_of(url: str, referrer: str) -> tuple[str, str, str]:
    """An entry page view's (path, referrer host, utm_campaign)."""
    parts = urlsplit(url)
    host = urlsplit(referrer).hostname if referrer else None
    campaign = parse_qs(parts.query).get("utm_campaign", ["(none)"])[0]
    return parts.path or "/", host or "(direct)", campaign[:64]


class DojoState:
    """Mergeable, serialisable dojo figures of one partition."""

    def __init__(self, lateness_ms: int = DEFAULT_LATENESS_MS) -> None:
        self.events: dict[str, list[int]] = {}  # id -> EVENT_FIELDS + [last ts]
        self.curves: dict[str, dict[int, int]] = {}  # id -> UTC day -> net tickets booked
        self.resources: dict[str, list[int]] = {}  # id -> RESOURCE_FIELDS + [last ts]
        self.hours: dict[int, dict[str, list[int]]] = {}  # hour -> resource -> views, downloads
        self.sources: dict[str, dict[str, int]] = {name: {} for name in SOURCES}
        self.minutes: dict[int, dict[str, int]] = {}  # minute -> tally counts
        self.sessions: dict[str, list[Any]] = {}  # id -> [last seen, path, host, campaign]
        self.engagement = Engagement()  # sessions, engaged, returning (dojo_engagement)
        self.funnels = Funnels()  # event page -> register page -> form -> booked (dojo_funnel)
        self.clock = EventClock(MINUTE_MS, lateness_ms)
        self.marks = Marks()

    def apply(self, batch: Mapping[str, Any], now_ms: int) -> None:
        """Fold the dojo events and resource views of one ``EventBatch`` dict."""
        events = batch["events"]
        session: list[Any] | None = self.sessions.get(batch["session_id"])
        for e in events:
            kind = e["type"]
            if kind == "page_view":
                if session is None:
                    session = [0, *source_of(e["url"], e.get("referrer") or "")]
                    self.sessions[batch["session_id"]] = session
                resource = resource_of(e["url"])
                if resource is not None:
                    self._resource(resource, 0, e["ts"])
            elif kind == "resource_download":
                self._resource(e["props"]["resource_id"], 1, e["ts"])
            elif kind in _DOJO:
                self._dojo(kind, e["props"], e["ts"], session)
        if session is not None:
            session[0] = max(session[0], batch["received_at"])
        self.funnels.apply(batch)
        for ts in self.engagement.apply(batch):
            self._minute(ts, {"engaged": 1})  # history: engaged sessions per minute
        if events:
            advance(self.clock, events[-1]["ts"], batch["received_at"])

    def _row(self, table: dict[str, list[int]], key: str, width: int) -> list[int]:
        row = table.get(key)
        if row is None:
            if len(table) >= MAX_ITEMS:
                key = OTHER
            row = table.get(key)
            if row is None:
                row = table[key] = [0] * (width + 1)
        return row

    def _dojo(self, kind: str, props: dict[str, Any], ts: int, session: list[Any] | None) -> None:
        event_id = props["dojo_event_id"]
        row = self._row(self.events, event_id, len(EVENT_FIELDS))
        row[-1] = max(row[-1], ts)
        if kind == "registration":
            tickets = props["tickets"]
            row[0] += 1
            row[1] += tickets
            self._curve(event_id, ts, tickets)
            source = _NO_SOURCE if session is None else session[1:]
            for name, value in zip(SOURCES, source, strict=True):
                bump(self.sources[name], value, 1, MAX_SOURCES)
            self._minute(
                ts, {"registrations": 1, "tickets": tickets, f"tickets.{event_id}": tickets}
            )
        elif kind == "registration_cancel":
            tickets = props["tickets"]
            row[2] += 1
            row[3] += tickets
            self._curve(event_id, ts, -tickets)
            self._minute(ts, {"cancelled": tickets, f"tickets.{event_id}": -tickets})
        else:
            heads = props.get("count", 1)
            walk_in = bool(props.get("walk_in"))
            row[5 if walk_in else 4] += heads
            name = "walk_ins" if walk_in else "arrived"
            self._minute(ts, {name: heads, f"attended.{event_id}": heads})

    def _curve(self, event_id: str, ts: int, tickets: int) -> None:
        if event_id in self.events:  # not for "(other)": a curve per real item only
            curve = self.curves.setdefault(event_id, {})
            day = ts - ts % DAY_MS
            curve[day] = curve.get(day, 0) + tickets

    def _resource(self, resource_id: str, field: int, ts: int) -> None:
        row = self._row(self.resources, resource_id, len(RESOURCE_FIELDS))
        row[field] += 1
        row[-1] = max(row[-1], ts)
        hour = self.hours.setdefault(ts - ts % HOUR_MS, {})
        if resource_id in hour or len(hour) < MAX_ITEMS:
            hour.setdefault(resource_id, [0, 0])[field] += 1
        self._minute(ts, {RESOURCE_FIELDS[field]: 1})

    def _minute(self, ts: int, counts: dict[str, int]) -> None:
        start = ts - ts % MINUTE_MS
        if self.clock.is_closed(start):
            return  # late: counted in the totals only
        minute = self.minutes.setdefault(start, {})
        for name, n in counts.items():
            minute[name] = minute.get(name, 0) + n
        self.marks.touch(start)

    def snapshot(self, now_ms: int) -> dict[str, Any]:
        """Every event's and resource's counts, the sources and the resources' trend scores."""
        return {
            "events": event_rows(self.events, self.curves),
            "resources": resource_rows(self.resources, self.hours, now_ms),
            "sources": {name: top(counts, 10, "name", "registrations")
                        for name, counts in self.sources.items()},
        }  # fmt: skip

    def expire(self, now_ms: int) -> None:
        """Forget idle sessions, old minutes and hours, and items untouched for a school year."""
        for table in (self.events, self.resources):
            for key in [k for k, row in table.items() if row[-1] < now_ms - KEEP_ITEM_MS]:
                del table[key]
                self.curves.pop(key, None)
        for hour in [
            h for h in self.hours if h < window_start(now_ms, HOUR_MS) - TREND_HOURS * HOUR_MS
        ]:
            del self.hours[hour]
        old = stale(self.clock, self.minutes, window_start(now_ms) - HOUR_MS, now_ms)
        for start in old:
            del self.minutes[start]
        self.marks.forget(old)
        idle = now_ms - SESSION_TIMEOUT_MS
        for sid in [k for k, s in self.sessions.items() if s[0] <= idle]:
            del self.sessions[sid]
        self.engagement.expire(now_ms)
        self.funnels.expire(now_ms)

    def merge(self, other: DojoState, *, sessions: bool = True) -> DojoState:
        """A new state of both partitions (``sessions=False`` skips sessions: display only)."""
        out = DojoState(self.clock.lateness_ms)
        out.clock = self.clock.merge(other.clock)
        for state in (self, other):
            for key, row in state.events.items():
                _add(out._row(out.events, key, len(EVENT_FIELDS)), row)
            for key, curve in state.curves.items():
                mine = out.curves.setdefault(key, {})
                for day, n in curve.items():
                    mine[day] = mine.get(day, 0) + n
            for key, row in state.resources.items():
                _add(out._row(out.resources, key, len(RESOURCE_FIELDS)), row)
            for hour, counts in state.hours.items():
                mine_h = out.hours.setdefault(hour, {})
                for key, (views, downloads) in counts.items():
                    pair = mine_h.setdefault(key, [0, 0])
                    pair[0] += views
                    pair[1] += downloads
            for name in SOURCES:
                out.sources[name] = merge_counts(
                    out.sources[name], state.sources[name], MAX_SOURCES
                )
            for start, tallied in state.minutes.items():
                minute = out.minutes.setdefault(start, {})
                for name, n in tallied.items():
                    minute[name] = minute.get(name, 0) + n
            if sessions:
                out.sessions.update({sid: list(s) for sid, s in state.sessions.items()})
        out.engagement = self.engagement.merge(other.engagement, sessions=sessions)
        out.funnels = self.funnels.merge(other.funnels, sessions=sessions)
        return out

    def minute_tally(self, start: int) -> Tally | None:
        """What history keeps of the minute at ``start`` (None when it holds nothing)."""
        minute = self.minutes.get(start)
        return None if minute is None else Tally({k: float(n) for k, n in minute.items()})

    def closed_minutes(self) -> list[int]:
        """Starts of the minutes held that are closed on the event clock, oldest first."""
        return closed(self.clock, self.minutes)

    def to_bytes(self) -> bytes:
        """A checkpoint (``stream.sketches.codec``)."""
        raw = {
            "events": self.events,
            "curves": {k: {str(d): n for d, n in c.items()} for k, c in self.curves.items()},
            "resources": self.resources,
            "hours": {str(h): c for h, c in self.hours.items()},
            "sources": self.sources,
            "minutes": {str(m): c for m, c in self.minutes.items()},
            "sessions": self.sessions,
            "clock": self.clock.to_list(),
            "engagement": self.engagement.to_raw(),
            "funnels": self.funnels.to_raw(),
        }
        return codec.encode("dojo", 2, raw, (uniques.LIBRARY,))

    @classmethod
    def from_bytes(cls, data: bytes) -> DojoState:
        """Rebuild a state written by ``to_bytes``."""
        return codec.decode("dojo", data, {1: cls._read_v1, 2: cls._read_v2})

    @classmethod
    def _read_v1(cls, raw: dict[str, Any]) -> DojoState:
        out = cls()
        out.events = raw["events"]
        out.curves = {k: {int(d): n for d, n in c.items()} for k, c in raw["curves"].items()}
        out.resources = raw["resources"]
        out.hours = {int(h): c for h, c in raw["hours"].items()}
        out.sources = raw["sources"]
        out.minutes = {int(m): c for m, c in raw["minutes"].items()}
        out.sessions = raw["sessions"]
        out.clock = EventClock.from_list(raw["clock"])
        return out

    @classmethod
    def _read_v2(cls, raw: dict[str, Any]) -> DojoState:
        out = cls._read_v1(raw)  # v2 = v1 + engagement, funnels (v1: none counted yet)
        out.engagement = Engagement.from_raw(raw["engagement"])
        out.funnels = Funnels.from_raw(raw["funnels"])
        return out


def _add(mine: list[int], theirs: list[int]) -> None:
    """Sum counts in place; the last cell is a timestamp and takes the later one."""
    for i in range(len(mine) - 1):
        mine[i] += theirs[i]
    mine[-1] = max(mine[-1], theirs[-1])
