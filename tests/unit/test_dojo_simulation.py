"""The simulator's dojo term: registrations, cancellations, arrivals, no-shows and walk-ins."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from dojo_pulse.simulation import generate, site
from dojo_pulse.simulation.door import bookings

START = 1_764_000_000_000


@pytest.fixture(scope="module")
def run() -> tuple[list[Any], dict[str, Any]]:
    requests, truth = generate(11, rate=150, duration_s=600, start_ms=START, invalid_ratio=0.02)
    return requests, truth.to_dict()


def valid_events(requests: list[Any]) -> list[dict[str, Any]]:
    return [
        event
        for request in requests
        for event, tag in zip(request.body["events"], request.expect, strict=True)
        if tag == ""
    ]


def test_the_truth_recounts_from_the_requests(run: tuple[list[Any], dict[str, Any]]) -> None:
    requests, truth = run
    counts: Counter[tuple[str, str]] = Counter()
    for event in valid_events(requests):
        props = event["props"]
        if event["type"] == "registration":
            counts[props["dojo_event_id"], "tickets"] += props["tickets"]
        elif event["type"] == "registration_cancel":
            counts[props["dojo_event_id"], "cancelled"] += props["tickets"]
        elif event["type"] == "attendance":
            kind = "walk_ins" if props.get("walk_in") else "arrived"
            counts[props["dojo_event_id"], kind] += props.get("count", 1)
    for event_id, row in truth["dojo"]["events"].items():
        for name in ("tickets", "cancelled", "arrived", "walk_ins"):
            assert row[name] == counts[event_id, name], (event_id, name)
        assert row["attended"] == row["arrived"] + row["walk_ins"]
        assert row["no_shows"] == max(0, row["tickets"] - row["cancelled"] - row["arrived"])


def test_todays_events_have_realistic_no_shows_and_walk_ins(
    run: tuple[list[Any], dict[str, Any]],
) -> None:
    events = run[1]["dojo"]["events"]
    today = [events[page.item_id] for page in site.UPCOMING[:2]]
    held = sum(row["tickets"] - row["cancelled"] for row in today)
    no_shows = sum(row["no_shows"] for row in today)
    assert held > 50
    assert 0.05 < no_shows / held < 0.35  # free events lose 15-25 % of their bookings
    assert sum(row["walk_ins"] for row in today) > 0
    assert sum(row["cancellations"] for row in events.values()) > 0


def test_every_dojo_id_is_a_catalogue_item(run: tuple[list[Any], dict[str, Any]]) -> None:
    dojo = run[1]["dojo"]
    assert set(dojo["events"]) <= set(site.CAPACITY)
    resources = {page.item_id for page in site.RESOURCE_PAGES}
    assert set(dojo["resources"]) <= resources
    assert all(row["downloads"] <= row["views"] for row in dojo["resources"].values())


def test_sources_count_every_registration(run: tuple[list[Any], dict[str, Any]]) -> None:
    dojo = run[1]["dojo"]
    registrations = sum(row["registrations"] for row in dojo["events"].values())
    for counts in dojo["sources"].values():
        assert sum(counts.values()) == registrations


def test_a_cancellation_gives_back_the_last_booking_in_part() -> None:
    def ev(kind: str, tickets: int) -> dict[str, Any]:
        return {"type": kind, "props": {"dojo_event_id": "event:a", "tickets": tickets}}

    held = bookings(
        [[ev("registration", 3), ev("registration_cancel", 1)], [ev("registration", 2)]]
    )
    assert held["event:a"] == [2, 2]
    assert bookings([[ev("registration", 1), ev("registration_cancel", 1)]])["event:a"] == []
