"""The figures of a report: each key number of a period beside the previous period's.

Periods are whole UTC days ending at the start of ``now``'s day: ``daily`` is yesterday,
``weekly`` the last 7 days, ``monthly`` the last 30. Figures come from the store's
summaries (``stream.history``): counts as sums, visitors as the union of the period's
sketches, p75s from every value of the period.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy

from stream.history.export import answer, to_csv
from stream.history.query import Query

DAY_MS = 86_400_000
PERIODS = {"daily": 1, "weekly": 7, "monthly": 30}
# (section, channel, summary name, label, format): what a report shows, in order.
FIGURES = (
    ("Traffic", "traffic", "views", "page views", "count"),
    ("Traffic", "traffic", "visitors", "visitors", "count"),
    ("Traffic", "traffic", "sessions", "sessions", "count"),
    ("Registrations", "dojo", "registrations", "registrations", "count"),
    ("Registrations", "dojo", "tickets", "places booked", "count"),
    ("Registrations", "dojo", "cancelled", "places given back", "count"),
    ("Attendance", "dojo", "arrived", "booked children who came", "count"),
    ("Attendance", "dojo", "walk_ins", "walk-ins", "count"),
    ("Engagement", "dojo", "engaged", "engaged sessions", "count"),
    ("Resources", "dojo", "views", "resource views", "count"),
    ("Resources", "dojo", "downloads", "downloads", "count"),
    ("Vitals", "vitals", "LCP.p75", "LCP p75", "ms"),
    ("Vitals", "vitals", "INP.p75", "INP p75", "ms"),
    ("Vitals", "vitals", "CLS.p75", "CLS p75", "ratio"),
)
CHANNELS = ("traffic", "dojo", "vitals", "funnels")
CHARTS = (("traffic", "views", "Page views per day"), ("dojo", "tickets", "Places booked per day"))


@dataclass(frozen=True)
class Figure:
    """One key number, the previous period's and the relative change (None: no base)."""

    section: str
    label: str
    value: float | None
    previous: float | None
    change: float | None
    unit: str


@dataclass
class Report:
    """Everything a report shows and attaches."""

    period: str
    start: int
    end: int
    figures: list[Figure]
    series: dict[str, list[tuple[int, float]]]  # chart title -> (day start, value)
    funnels: list[tuple[str, float, float]]  # funnel, entered, completed
    csv: dict[str, bytes] = field(default_factory=dict)  # file name -> bytes
    reason: str = ""  # why it was sent out of schedule (a threshold), else ""

    @property
    def title(self) -> str:
        """``Dojo Pulse weekly report, 2026-11-26 to 2026-12-02``."""
        first = datetime.fromtimestamp(self.start / 1000, UTC).date()
        last = datetime.fromtimestamp((self.end - 1) / 1000, UTC).date()
        span = first.isoformat() if first == last else f"{first} to {last}"
        return f"Dojo Pulse {self.period} report, {span}"


def bounds(period: str, now_ms: int) -> tuple[int, int]:
    """The period's [start, end) in epoch ms: whole UTC days before ``now``'s day."""
    end = now_ms - now_ms % DAY_MS
    return end - PERIODS[period] * DAY_MS, end


def gather(engine: sqlalchemy.Engine, period: str, now_ms: int, reason: str = "") -> Report:
    """Read the period and the one before from the store (blocking)."""
    start, end = bounds(period, now_ms)
    interval = "hour" if period == "daily" else "day"
    bodies: dict[str, dict[str, Any]] = {}
    csv: dict[str, bytes] = {}
    for channel in CHANNELS:
        body = answer(engine, Query(channel, interval, start, end, compare=True))
        bodies[channel] = body
        csv[f"{channel}.csv"] = to_csv(body["rows"])
    figures = []
    for section, channel, name, label, unit in FIGURES:
        now, before = bodies[channel]["total"], bodies[channel]["previous"]["total"]
        figures.append(Figure(section, label, now.get(name), before.get(name),
                              bodies[channel]["change"].get(name), unit))  # fmt: skip
        if name == "engaged":
            figures += shares(bodies)
    series = {
        title: [(row["start"], float(row.get(name) or 0)) for row in bodies[channel]["rows"]]
        for channel, name, title in CHARTS
    }
    return Report(period, start, end, figures, series, funnels(bodies["funnels"]["total"]), csv,
                  reason)  # fmt: skip


def shares(bodies: dict[str, dict[str, Any]]) -> list[Figure]:
    """Engaged sessions of all sessions, and sessions that came back the same day.

    Visitor ids rotate daily, so a period's visitors are the sum of each day's: sessions
    minus visitors are the sessions beyond each visitor's first of its day.
    """
    traffic, dojo = bodies["traffic"], bodies["dojo"]
    out = []
    for label, part in (("engaged share of sessions", lambda t, d: d.get("engaged")),
                        ("sessions that came back the same day", _returning)):  # fmt: skip
        now = _share(part(traffic["total"], dojo["total"]), traffic["total"].get("sessions"))
        before = _share(part(traffic["previous"]["total"], dojo["previous"]["total"]),
                        traffic["previous"]["total"].get("sessions"))  # fmt: skip
        change = (now - before) / before if now is not None and before else None
        out.append(Figure("Engagement", label, now, before, change, "share"))
    return out


def _returning(traffic: dict[str, float | None], dojo: dict[str, float | None]) -> float | None:
    sessions, visitors = traffic.get("sessions"), traffic.get("visitors")
    return None if sessions is None or visitors is None else max(0.0, sessions - visitors)


def _share(part: float | None, whole: float | None) -> float | None:
    return None if part is None or not whole else part / whole


def funnels(total: dict[str, float | None]) -> list[tuple[str, float, float]]:
    """Per funnel: sessions that entered (step 0) and that completed (its last step)."""
    steps: dict[str, dict[int, float]] = {}
    for name, value in total.items():
        funnel, _, step = name.rpartition(".")
        if funnel and step.isdigit() and value is not None:
            steps.setdefault(funnel, {})[int(step)] = value
    return [(f, s.get(0, 0.0), s[max(s)]) for f, s in sorted(steps.items()) if s]
