"""The dojo board: the state joined with the catalogue, forecasts beside, notices at 80 %."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson

from stream.metrics.dojo import DojoState
from stream.metrics.dojo_board import board, notices, past_events
from stream.metrics.dojo_catalogue import Catalogue
from stream.metrics.dojo_forecast import DAY_MS, Forecaster
from tests.unit.test_topics_doc import documented

NOW = 1_764_072_000_000  # Tuesday 2025-11-25 12:00 UTC
SATURDAY = NOW + 4 * DAY_MS - 2 * 3_600_000


def iso(ms: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def registration(
    event_id: str, ts: int, tickets: int, kind: str = "registration"
) -> dict[str, Any]:
    return {"type": kind, "ts": ts, "url": "/r", "referrer": "",
            "props": {"dojo_event_id": event_id, "tickets": tickets}}  # fmt: skip


def arrival(event_id: str, ts: int, count: int, walk_in: bool = False) -> dict[str, Any]:
    return {"type": "attendance", "ts": ts, "url": "/c", "referrer": "",
            "props": {"dojo_event_id": event_id, "count": count, "walk_in": walk_in}}  # fmt: skip


def fold(state: DojoState, *events: dict[str, Any]) -> None:
    for n, e in enumerate(events):
        state.apply(
            {
                "session_id": f"s{n}-{e['ts']}",
                "visitor_id": f"v{n}",
                "received_at": e["ts"],
                "events": [e],
            },
            e["ts"],
        )


def shop() -> tuple[DojoState, Catalogue]:
    catalogue = Catalogue()
    catalogue.apply(b"event:scratch", orjson.dumps({
        "title": "Scratch Saturday", "capacity": 10, "starts_at": iso(SATURDAY),
        "registration_closes": iso(SATURDAY - DAY_MS), "age_min": 7, "age_max": 11,
        "tags": ["scratch"]}))  # fmt: skip
    catalogue.apply(b"event:past", orjson.dumps({
        "title": "Python past", "capacity": 8, "starts_at": iso(NOW - 7 * DAY_MS),
        "tags": ["python"]}))  # fmt: skip
    catalogue.apply(b"event:empty", orjson.dumps({
        "title": "Nobody yet", "capacity": 20, "starts_at": iso(NOW + 11 * DAY_MS)}))  # fmt: skip
    catalogue.apply(b"resource:cards", orjson.dumps({"title": "Cards", "tags": ["scratch"]}))
    state = DojoState()
    fold(state, registration("event:scratch", NOW - DAY_MS, 6), registration("event:scratch", NOW, 3),
         registration("event:past", NOW - 9 * DAY_MS, 6), arrival("event:past", NOW - 7 * DAY_MS, 4),
         arrival("event:past", NOW - 7 * DAY_MS, 2, walk_in=True),
         registration("event:unknown", NOW, 1))  # fmt: skip
    return state, catalogue


def test_events_are_joined_with_their_capacity_and_dates() -> None:
    state, catalogue = shop()
    out = board(state, catalogue, Forecaster(), NOW)
    rows = {r["id"]: r for r in out["registrations"]["events"]}
    assert rows["event:scratch"]["fill"] == 0.9
    assert rows["event:scratch"]["upcoming"] and rows["event:scratch"]["ages"] == "7-11"
    assert rows["event:scratch"]["forecast_fill"] >= 0.9
    assert rows["event:scratch"]["expected_turnout"] == 9  # before any past event: the baseline
    assert rows["event:past"]["no_shows"] == 2 and rows["event:past"]["show_rate"] == 0.667
    assert (
        rows["event:unknown"]["title"] == "event:unknown" and rows["event:unknown"]["fill"] is None
    )
    assert rows["event:empty"]["net_tickets"] == 0 and rows["event:empty"]["upcoming"]
    assert out["attendance"]["by_tag"]["python"]["attended"] == 6
    assert out["registrations"]["totals"]["net_tickets"] == 16


def test_only_past_events_feed_the_forecasts() -> None:
    state, catalogue = shop()
    past = past_events(state, catalogue, NOW)
    assert [(p.capacity, p.attended) for p in past] == [(8, 6)]


def test_a_notice_names_the_weekday_and_the_places() -> None:
    state, catalogue = shop()
    rows = board(state, catalogue, Forecaster(), NOW)["registrations"]["events"]
    [(event_id, alert)] = notices(rows, NOW)
    assert event_id == "event:scratch"
    assert alert["reason"] == "Saturday's Scratch Saturday is 90 % full (9 of 10 places)"
    assert documented()["dojo.alerts"] == [set(alert)]


def test_the_three_sections_match_docs_topics() -> None:
    state, catalogue = shop()
    out = board(state, catalogue, Forecaster(), NOW)
    docs = documented()
    for name in ("registrations", "attendance", "resources"):
        assert docs[f"dojo.metrics.{name}"] == [{"ts", *out[name]}]
    text = (Path(__file__).parents[2] / "docs" / "topics.md").read_text()
    row = next(
        line for line in text.splitlines() if line.startswith("| `events` | array | | per dojo")
    )
    for field in out["registrations"]["events"][0]:
        assert re.search(rf"`{field}`", row), field


def test_resources_are_titled_and_grouped_by_tag() -> None:
    state, catalogue = shop()
    fold(state, *({"type": "page_view", "ts": NOW, "url": "/resources/cards", "referrer": "",
                   "props": {}} for _ in range(25)))  # fmt: skip
    out = board(state, catalogue, Forecaster(), NOW)["resources"]
    assert out["resources"][0]["title"] == "Cards"
    assert out["by_tag"] == {"scratch": {"views": 25, "downloads": 0}}
    assert out["rarely_downloaded"] == ["resource:cards"]
