"""Per-minute health features of the site, for the anomaly detector.

Each closed minute (by event time) gives: page views, sessions seen, LCP p75 and form-field
errors; the dead-lettered share comes from the ingest counters (``stream.metrics.pipeline``).
A minute is handed over once, ``lateness_ms`` after it ends; minutes without a single event
are handed over as zeros, because a site that goes silent is exactly what should alert.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stream.sketches.quantiles import Quantiles
from stream.sketches.windows import MINUTE_MS, window_start

LATENESS_MS = 2 * MINUTE_MS
MAX_GAP_MINUTES = 24 * 60  # after a long outage, only the last day of silent minutes counts


@dataclass
class _Minute:
    views: int = 0
    errors: int = 0
    sessions: set[str] = field(default_factory=set)
    lcp: Quantiles = field(default_factory=Quantiles)

    def features(self) -> dict[str, float]:
        p75 = self.lcp.quantile(0.75)
        return {
            "views": float(self.views),
            "sessions": float(len(self.sessions)),
            "vitals_p75": float(p75) if p75 is not None else 0.0,
            "errors": float(self.errors),
        }


@dataclass
class MinuteFeatures:
    """Open minutes being filled, and the last minute already handed over."""

    minutes: dict[int, _Minute] = field(default_factory=dict)
    last_closed: int = 0  # start of the last minute handed over; 0 before the first

    def add(self, batch: Mapping[str, Any]) -> None:
        """Count one batch into the minutes of its events."""
        session = batch["session_id"]
        for event in batch["events"]:
            start = window_start(event["ts"])
            if start <= self.last_closed:
                continue  # too late: that minute has been judged already
            minute = self.minutes.get(start)
            if minute is None:
                minute = self.minutes[start] = _Minute()
            minute.sessions.add(session)
            kind = event["type"]
            if kind == "page_view":
                minute.views += 1
            elif kind == "form_field" and event["props"].get("action") == "error":
                minute.errors += 1
            elif kind == "web_vital" and event["props"].get("name") == "LCP":
                minute.lcp.add(float(event["props"]["value"]))

    def close(self, now_ms: int) -> list[tuple[int, dict[str, float]]]:
        """Hand over every minute that ended ``LATENESS_MS`` ago, silent minutes included."""
        newest = window_start(now_ms - LATENESS_MS) - MINUTE_MS
        if self.last_closed == 0:
            if not self.minutes:
                return []
            self.last_closed = min(self.minutes) - MINUTE_MS
        first = max(self.last_closed + MINUTE_MS, newest - MAX_GAP_MINUTES * MINUTE_MS)
        out = []
        for start in range(first, newest + 1, MINUTE_MS):
            minute = self.minutes.pop(start, None) or _Minute()
            out.append((start, minute.features()))
        self.last_closed = max(self.last_closed, newest)
        for start in [s for s in self.minutes if s <= self.last_closed]:
            del self.minutes[start]
        return out
