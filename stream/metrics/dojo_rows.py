"""The rows a dojo snapshot shows: each event's counts and curve, each resource's trend.

A resource's ``trend`` is its views plus three times its downloads per hour of the last two
days, each hour weighted by half for every ``TREND_HALF_LIFE_H`` of age: a steady favourite
and a resource everyone opened this morning both rise, last week's burst fades.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from stream.sketches.windows import HOUR_MS

TREND_HALF_LIFE_H = 6.0
DOWNLOAD_WEIGHT = 3  # a download says more than a view


def _iso_day(day_ms: int) -> str:
    return datetime.fromtimestamp(day_ms / 1000, UTC).date().isoformat()


def event_rows(
    events: dict[str, list[int]], curves: dict[str, dict[int, int]]
) -> list[dict[str, Any]]:
    """One row per dojo event: counts, attended, no-shows and net tickets per UTC day."""
    rows = []
    for event_id, row in sorted(events.items()):
        registrations, tickets, cancellations, cancelled, arrived, walk_ins, last = row
        net = tickets - cancelled
        rows.append(
            {
                "id": event_id,
                "registrations": registrations,
                "tickets": tickets,
                "cancellations": cancellations,
                "cancelled": cancelled,
                "net_tickets": net,
                "arrived": arrived,
                "walk_ins": walk_ins,
                "attended": arrived + walk_ins,
                "no_shows": max(0, net - arrived),
                "last_ts": last,
                "by_day": {_iso_day(d): n for d, n in sorted(curves.get(event_id, {}).items())},
            }
        )
    return rows


def resource_rows(
    resources: dict[str, list[int]], hours: dict[int, dict[str, list[int]]], now_ms: int
) -> list[dict[str, Any]]:
    """One row per resource, trending first: views, downloads, download rate, trend score."""
    trend: dict[str, float] = {}
    for hour, counts in hours.items():
        age_h = max(0.0, (now_ms - hour - HOUR_MS / 2) / HOUR_MS)
        weight = 0.5 ** (age_h / TREND_HALF_LIFE_H)
        for key, (views, downloads) in counts.items():
            trend[key] = trend.get(key, 0.0) + weight * (views + DOWNLOAD_WEIGHT * downloads)
    rows = [
        {
            "id": key,
            "views": views,
            "downloads": downloads,
            "download_rate": round(downloads / views, 3) if views else None,
            "trend": round(trend.get(key, 0.0), 3),
        }
        for key, (views, downloads, _last) in resources.items()
    ]
    return sorted(rows, key=lambda r: (-r["trend"], -r["views"], r["id"]))
