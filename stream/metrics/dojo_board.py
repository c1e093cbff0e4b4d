"""The dojo figures joined with the catalogue: what the three dojo topics and the panel show.

``board`` turns a merged ``DojoState`` into three sections: ``registrations`` (per event:
tickets, fill of capacity, time to fill, forecast fill at close; sources), ``attendance``
(attended, no-shows, walk-ins, show rate, expected turnout; by tag and age range) and
``resources`` (views, downloads, trend; by tag; viewed but rarely downloaded). Events and
resources the catalogue does not know are shown under their id with no capacity. The
forecasts learn from past events only: those whose registration has closed (fill) and that
had someone checked in (turnout). ``notices`` says which events have just passed
``FULL_NOTICE`` of their places.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from stream.metrics.dojo import DojoState
from stream.metrics.dojo_catalogue import Catalogue, DojoEvent
from stream.metrics.dojo_forecast import DAY_MS, Forecaster, PastEvent
from stream.metrics.dojo_rows import event_rows, resource_rows
from stream.sketches.counters import top

FULL_NOTICE = 0.8
RARE_DOWNLOADS = 0.1  # viewed at least RARE_MIN_VIEWS times, downloaded by fewer than 1 in 10
RARE_MIN_VIEWS = 20
TOTALS = ("registrations", "tickets", "cancelled", "net_tickets", "arrived", "walk_ins",
          "attended", "no_shows")  # fmt: skip


def past_events(state: DojoState, catalogue: Catalogue, now_ms: int) -> list[PastEvent]:
    """The catalogue events whose registration closed, with their curves and heads."""
    out = []
    for event_id, event in catalogue.events.items():
        row = state.events.get(event_id)
        if row is None or event.closes_ms > now_ms or event.status == "cancelled":
            continue
        heads = row[4] + row[5]
        attended = heads if heads and event.starts_ms <= now_ms else None
        curve = state.curves.get(event_id, {})
        out.append(PastEvent(event.capacity, event.closes_ms, event.starts_ms, curve, attended))
    return out


def _time_to_fill(curve: dict[int, int], capacity: int) -> float | None:
    total = 0
    for day in sorted(curve):
        total += curve[day]
        if capacity and total >= capacity:
            return (day - min(curve)) / DAY_MS
    return None


def _range(event: DojoEvent | None) -> str:
    if event is None or event.age_min is None or event.age_max is None:
        return "any age"
    return f"{event.age_min}-{event.age_max}"


def _groups(rows: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        for name in row[key] if isinstance(row[key], list) else [row[key]]:
            g = out.setdefault(name, {"events": 0, "net_tickets": 0, "arrived": 0, "attended": 0})
            g["events"] += 1
            for field in ("net_tickets", "arrived", "attended"):
                g[field] += row[field]
    for g in out.values():
        g["show_rate"] = round(g["arrived"] / g["net_tickets"], 3) if g["net_tickets"] else None
    return out


def board(state: DojoState, catalogue: Catalogue, model: Forecaster, now_ms: int) -> dict[str, Any]:
    """The three sections, each ready to send as one topic record."""
    events = []
    for row in event_rows(state.events, state.curves):
        event = catalogue.events.get(row["id"])
        curve = state.curves.get(row["id"], {})
        capacity = event.capacity if event else None
        row.update(
            title=event.title if event else row["id"],
            capacity=capacity,
            starts_ms=event.starts_ms if event else None,
            closes_ms=event.closes_ms if event else None,
            tags=list(event.tags) if event else [],
            ages=_range(event),
            upcoming=bool(event and event.starts_ms > now_ms),
            fill=round(row["net_tickets"] / capacity, 4) if capacity else None,
            time_to_fill_days=_time_to_fill(curve, capacity or 0),
            show_rate=round(row["arrived"] / row["net_tickets"], 3)
            if row["net_tickets"] > 0
            else None,
            forecast_fill=None,
            expected_turnout=None,
        )
        if event and capacity and event.starts_ms > now_ms:
            row["forecast_fill"] = round(
                model.predict_fill(capacity, curve, event.closes_ms, now_ms), 4
            )
            row["expected_turnout"] = round(
                model.predict_turnout(capacity, curve, event.starts_ms), 1
            )
        events.append(row)
    for event_id, event in catalogue.events.items():  # upcoming events nobody booked yet
        if event_id not in state.events and event.starts_ms > now_ms:
            events.append(_unbooked(event, model, now_ms))
    events.sort(key=lambda r: (r["starts_ms"] is None, r["starts_ms"] or 0, r["id"]))
    resources = resource_rows(state.resources, state.hours, now_ms)
    by_tag: dict[str, dict[str, int]] = {}
    for row in resources:
        known = catalogue.resources.get(row["id"])
        row["title"] = known.title if known else row["id"]
        row["tags"] = list(known.tags) if known else []
        for tag in row["tags"]:
            t = by_tag.setdefault(tag, {"views": 0, "downloads": 0})
            t["views"] += row["views"]
            t["downloads"] += row["downloads"]
    totals = {name: sum(r[name] for r in events) for name in TOTALS}
    # Places of an event still to come are not missed yet; an event with no date is unknown.
    begun = [r for r in events if r["starts_ms"] is not None and r["starts_ms"] <= now_ms]
    totals["no_shows"] = sum(r["no_shows"] for r in begun)
    past = [r for r in events if not r["upcoming"] and r["attended"]]
    sources = {
        name: top(counts, 10, "name", "registrations") for name, counts in state.sources.items()
    }
    return {
        "engagement": state.engagement.snapshot(now_ms),
        "funnels": state.funnels.rows({k: e.title for k, e in catalogue.events.items()}),
        "registrations": {
            "events": events,
            "sources": sources,
            "totals": totals,
            "forecast": {**model.fill_score.summary(), "events": model.events},
        },
        "attendance": {
            "events": [r for r in events if r["attended"] or not r["upcoming"]],
            "by_tag": _groups(past, "tags"),
            "by_age": _groups(past, "ages"),
            "turnout": model.turnout_score.summary(),
            "totals": totals,
        },
        "resources": {
            "resources": resources,
            "by_tag": by_tag,
            "rarely_downloaded": [
                r["id"]
                for r in resources
                if r["views"] >= RARE_MIN_VIEWS and r["downloads"] < RARE_DOWNLOADS * r["views"]
            ],
        },
    }


def _unbooked(event: DojoEvent, model: Forecaster, now_ms: int) -> dict[str, Any]:
    rows = event_rows({event.id: [0, 0, 0, 0, 0, 0, 0]}, {})
    row = rows[0]
    row.update(
        title=event.title,
        capacity=event.capacity,
        starts_ms=event.starts_ms,
        closes_ms=event.closes_ms,
        tags=list(event.tags),
        ages=_range(event),
        upcoming=True,
        fill=0.0,
        time_to_fill_days=None,
        show_rate=None,
        forecast_fill=round(model.predict_fill(event.capacity, {}, event.closes_ms, now_ms), 4),
        expected_turnout=0.0,
    )
    return row


def notices(events: list[dict[str, Any]], now_ms: int) -> list[tuple[str, dict[str, Any]]]:
    """(event id, alert) per upcoming event at or past ``FULL_NOTICE`` of its places.

    The alert has the fields of every record on ``dojo.alerts`` (docs/topics.md), kind
    ``capacity``: the value is the fill, the expected value the threshold.
    """
    out = []
    for row in events:
        fill = row["fill"]
        if not row["upcoming"] or fill is None or fill < FULL_NOTICE:
            continue
        day = datetime.fromtimestamp(row["starts_ms"] / 1000, UTC).strftime("%A")
        reason = (
            f"{day}'s {row['title']} is {min(100, int(fill * 100))} % full "
            f"({row['net_tickets']} of {row['capacity']} places)"
        )
        alert = {
            "kind": "capacity",
            "minute": now_ms - now_ms % 60_000,
            "metric": f"fill {row['id']}",
            "value": fill,
            "expected": FULL_NOTICE,
            "ratio": round(fill / FULL_NOTICE, 4),
            "reason": reason,
            "score": min(1.0, fill),
        }
        out.append((row["id"], alert))
    return out
