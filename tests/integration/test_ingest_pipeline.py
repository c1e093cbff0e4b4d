"""Beacon requests over HTTP -> collector -> Kafka -> validate agent -> clean and dead-letter topics."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from stream.ingest.bundles import batches_of
from stream.settings import Settings
from tests.integration.conftest import Proc, read_topic

pytestmark = pytest.mark.integration

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def page_view(n: int, session: int, now_ms: int, **overrides: Any) -> dict[str, Any]:
    event = {
        # Unique per test run: the dedupe store outlives a single test.
        "event_id": f"evt_{now_ms}_{n:05d}",
        "type": "page_view",
        "ts": now_ms - 1000,
        "session_id": f"sess_{session:08d}",
        "url": f"/events/{n}?b=2&a=1#top",
        "props": {"title": f"Dojo {n}"},
    }
    event.update(overrides)
    return event


def test_valid_and_invalid_events_land_exactly_once(
    stack_settings: Settings, collector_url: str, start: Callable[..., Proc]
) -> None:
    worker = start(["worker"], stack_settings)
    now = int(time.time() * 1000)
    valid = [page_view(i, i % 5, now) for i in range(30)]
    invalid = [
        page_view(100, 1, now, event_id="bad"),
        page_view(101, 1, now, props={"title": "x", "typed_value": "secret"}),
        page_view(102, 1, now, type="purchase"),
        page_view(103, 1, now, ts=now - 72 * 3_600_000),
        12345,
    ]
    duplicates = valid[:3]
    bots = [page_view(200 + i, 9, now) for i in range(2)]
    expected_reasons = Counter(
        {"schema": 2, "type": 1, "too_old": 1, "malformed": 1, "duplicate": 3, "bot": 2}
    )

    with httpx.Client(base_url=collector_url, timeout=10) as client:
        for i in range(0, 30, 6):
            reply = client.post(
                "/collect", json={"events": valid[i : i + 6]}, headers={"User-Agent": BROWSER}
            )
            assert reply.status_code == 202, reply.text
        for body in (invalid, duplicates):
            reply = client.post("/collect", json={"events": body}, headers={"User-Agent": BROWSER})
            assert reply.status_code == 202, reply.text
        reply = client.post("/collect", json={"events": bots}, headers={"User-Agent": GOOGLEBOT})
        assert reply.status_code == 202, reply.text

    bundles = asyncio.run(
        read_topic(
            stack_settings,
            stack_settings.topic_events,
            lambda v: sum(len(b["events"]) for b in batches_of(v)) >= 30,
        )
    )
    letters = asyncio.run(
        read_topic(
            stack_settings,
            stack_settings.topic_dlq,
            lambda v: len(v) >= sum(expected_reasons.values()),
        )
    )
    assert worker.alive(), worker.output()

    batches = batches_of(bundles)
    events = [e for b in batches for e in b["events"]]
    assert sorted(e["event_id"] for e in events) == sorted(e["event_id"] for e in valid)
    assert all(e["url"].startswith("/events/") and "#" not in e["url"] for e in events)
    assert {e["url"] for e in events} >= {"/events/0"}  # queries are dropped (not utm_*)
    assert all(b["session_id"] == e["session_id"] for b in batches for e in b["events"])
    assert Counter(letter["reason"] for letter in letters) == expected_reasons
    fields = {letter["reason"]: letter["field"] for letter in letters}
    assert fields["schema"] in {"event_id", "props.typed_value"}
    assert fields["too_old"] == "ts"
    assert all(letter["source_topic"] == stack_settings.topic_raw for letter in letters)
