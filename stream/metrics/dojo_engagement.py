"""Engagement in an organiser's words: sessions, engaged sessions, returning visitors, per area.

Per UTC day (of a session's first page view), mergeable across partitions:

- ``sessions``: sessions that began that day, in total and per content area of their first
  page (``events``, ``resources``, ``blog``; everything else is ``info``);
- ``engaged``: those that lasted more than 10 seconds (first page view to a later event),
  viewed 2 or more pages, or did something (a click, a form, a download, a registration);
- ``returning``: sessions beyond each visitor's first of the day, i.e. sessions minus
  distinct visitors. Visitor ids rotate daily by design, so "returning" means "came back the
  same day": nobody is recognised across days.

Visitors are held as fingerprints in ``Uniques`` (exact up to 8,192 a day, then an estimate
within 1 %); sessions by their id only while they last (30 minutes idle).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from stream.metrics.visits import SESSION_TIMEOUT_MS
from stream.sketches.uniques import Uniques, fingerprint
from stream.sketches.windows import DAY_MS

AREAS = ("events", "resources", "blog", "info")
ENGAGED_AFTER_MS = 10_000
INTERACTIONS = frozenset({"click", "form_start", "form_submit", "resource_download",
                          "registration", "registration_cancel"})  # fmt: skip
KEEP_DAYS = 2  # today and yesterday: the panel shows today, the report reads history


def area_of(url: str) -> str:
    """The content area of a page: the first path segment if it is one, else ``info``."""
    first = urlsplit(url).path.strip("/").split("/", 1)[0]
    return first if first in AREAS[:3] else "info"


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


class Engagement:
    """Sessions, engaged sessions and distinct visitors per UTC day; see the module docstring."""

    def __init__(self) -> None:
        self.days: dict[int, dict[str, int]] = {}  # day -> sessions[.area], engaged[.area]
        self.visitors: dict[int, Uniques] = {}  # day -> visitor fingerprints
        self.live: dict[str, list[Any]] = {}  # session -> [first ts, views, engaged, area, seen]

    def apply(self, batch: Mapping[str, Any]) -> list[int]:
        """Fold one batch; the event times at which sessions became engaged (for history)."""
        out: list[int] = []
        session = self.live.get(batch["session_id"])
        for e in batch["events"]:
            kind, ts = e["type"], e["ts"]
            if session is None:
                if kind != "page_view":
                    continue  # a session is counted from its first page view
                session = [ts, 0, 0, area_of(e["url"]), 0]
                self.live[batch["session_id"]] = session
                self._count(ts, "sessions", session[3])
                day = ts - ts % DAY_MS
                self.visitors.setdefault(day, Uniques()).add(fingerprint(batch["visitor_id"]))
            if kind == "page_view":
                session[1] += 1
            if not session[2] and (
                session[1] >= 2 or kind in INTERACTIONS or ts - session[0] > ENGAGED_AFTER_MS
            ):
                session[2] = 1
                self._count(session[0], "engaged", session[3])
                out.append(ts)
        if session is not None:
            session[4] = max(session[4], batch["received_at"])
        return out

    def _count(self, ts: int, name: str, area: str) -> None:
        day = self.days.setdefault(ts - ts % DAY_MS, {})
        for key in (name, f"{name}.{area}"):
            day[key] = day.get(key, 0) + 1

    def snapshot(self, now_ms: int) -> dict[str, Any]:
        """``today`` and ``yesterday``: each figure, its rate and the figures per area."""
        today = now_ms - now_ms % DAY_MS
        return {"today": self.day(today), "yesterday": self.day(today - DAY_MS)}

    def day(self, start: int) -> dict[str, Any]:
        """The figures of the UTC day beginning at ``start``."""
        counts = self.days.get(start, {})
        sessions, engaged = counts.get("sessions", 0), counts.get("engaged", 0)
        uniques = self.visitors.get(start)
        visitors = uniques.count() if uniques is not None else 0
        returning = max(0, sessions - visitors)
        by_area = {}
        for area in AREAS:
            n, e = counts.get(f"sessions.{area}", 0), counts.get(f"engaged.{area}", 0)
            by_area[area] = {"sessions": n, "engaged": e, "engaged_rate": _rate(e, n)}
        return {
            "day": datetime.fromtimestamp(start / 1000, UTC).date().isoformat(),
            "sessions": sessions,
            "engaged": engaged,
            "engaged_rate": _rate(engaged, sessions),
            "visitors": visitors,
            "returning": returning,
            "returning_rate": _rate(returning, sessions),
            "by_area": by_area,
        }

    def expire(self, now_ms: int) -> None:
        """Forget days before yesterday and sessions idle for 30 minutes (server time)."""
        first = now_ms - now_ms % DAY_MS - (KEEP_DAYS - 1) * DAY_MS
        for table in (self.days, self.visitors):
            for day in [d for d in table if d < first]:
                del table[day]
        idle = now_ms - SESSION_TIMEOUT_MS
        for sid in [k for k, s in self.live.items() if s[4] <= idle]:
            del self.live[sid]

    def merge(self, other: Engagement, *, sessions: bool = True) -> Engagement:
        """Both partitions' figures (``sessions=False``: not the live sessions, display only)."""
        out = Engagement()
        for state in (self, other):
            for start, counts in state.days.items():
                mine = out.days.setdefault(start, {})
                for name, n in counts.items():
                    mine[name] = mine.get(name, 0) + n
            for start, uniques in state.visitors.items():
                held = out.visitors.get(start)
                out.visitors[start] = uniques.copy() if held is None else held.merge(uniques)
            if sessions:
                out.live.update({sid: list(s) for sid, s in state.live.items()})
        return out

    def to_raw(self) -> dict[str, Any]:
        """JSON-able form, for the dojo checkpoint."""
        return {
            "days": {str(d): c for d, c in self.days.items()},
            "visitors": {
                str(d): base64.b64encode(u.to_bytes()).decode() for d, u in self.visitors.items()
            },
            "live": self.live,
        }

    @classmethod
    def from_raw(cls, raw: Mapping[str, Any]) -> Engagement:
        """Rebuild a state written by ``to_raw``."""
        out = cls()
        out.days = {int(d): c for d, c in raw["days"].items()}
        out.visitors = {int(d): Uniques.from_bytes(base64.b64decode(u))
                        for d, u in raw["visitors"].items()}  # fmt: skip
        out.live = raw["live"]
        return out
