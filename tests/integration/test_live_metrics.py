"""Metric agents on the real stack: snapshots in Redis and on the metric topics match what was sent."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest
import redis

from stream.models.keys import Keys
from stream.settings import Settings
from tests.integration.conftest import Proc, read_topic, wait_for
from tests.integration.test_ingest_pipeline import BROWSER, page_view

pytestmark = pytest.mark.integration


def snapshot(settings: Settings, channel: str) -> dict[str, Any] | None:
    raw = redis.Redis.from_url(settings.redis_url).get(Keys.of(settings).snapshot(channel))
    return None if raw is None else orjson.loads(raw)["data"]


def test_traffic_forms_vitals_and_activity_snapshots(
    stack_settings: Settings, collector_url: str, start: Callable[..., Proc]
) -> None:
    worker = start(["worker"], stack_settings)
    now = int(time.time() * 1000)
    sessions = 4
    events: list[dict[str, Any]] = []
    for s in range(sessions):
        events.append(page_view(10 * s, s, now, url="/"))
        events.append(page_view(10 * s + 1, s, now, url="/events"))
        events.append(
            page_view(
                10 * s + 2,
                s,
                now,
                type="form_start",
                url="/events/x/register",
                props={"form_id": "registration"},
            )
        )
        events.append(
            page_view(
                10 * s + 3,
                s,
                now,
                type="web_vital",
                url="/events",
                props={"name": "LCP", "value": 1000.0 + 1000 * s},
            )
        )
    events.append(
        page_view(
            99,
            0,
            now,
            type="form_submit",
            url="/events/x/register",
            props={"form_id": "registration"},
        )
    )
    with httpx.Client(base_url=collector_url, timeout=10) as client:
        reply = client.post("/collect", json={"events": events}, headers={"User-Agent": BROWSER})
        assert reply.status_code == 202, reply.text

    def traffic_ready() -> bool:
        data = snapshot(stack_settings, "traffic")
        return data is not None and data["today"]["views"] == 2 * sessions

    wait_for(lambda: traffic_ready() or not worker.alive(), 60, "the traffic snapshot")
    assert worker.alive(), worker.output()
    traffic = snapshot(stack_settings, "traffic")
    assert traffic is not None
    assert traffic["today"]["sessions"] == sessions
    assert traffic["today"]["visitors"] == 1  # one user agent from one address: one visitor
    assert {p["url"]: p["views"] for p in traffic["top_pages"]} == {
        "/": sessions,
        "/events": sessions,
    }

    wait_for(
        lambda: (snapshot(stack_settings, "forms") or {}).get("forms"), 30, "the forms snapshot"
    )
    forms = {f["form_id"]: f for f in snapshot(stack_settings, "forms")["forms"]}  # type: ignore[index]
    assert forms["registration"]["starts"] == sessions
    assert forms["registration"]["submits"] == 1

    wait_for(
        lambda: (snapshot(stack_settings, "vitals") or {}).get("site"), 30, "the vitals snapshot"
    )
    lcp = snapshot(stack_settings, "vitals")["site"]["LCP"]  # type: ignore[index]
    assert lcp["n"] == sessions
    assert lcp["good"] == pytest.approx(0.5)  # 1000 and 2000 ms are good; 3000 and 4000 are not

    wait_for(lambda: snapshot(stack_settings, "activity") is not None, 30, "the activity snapshot")
    activity = snapshot(stack_settings, "activity")
    assert activity is not None
    assert len(activity["events"]) == len(events)
    assert all("event_id" not in row and len(row["visitor"]) == 6 for row in activity["events"])

    published = asyncio.run(
        read_topic(
            stack_settings,
            stack_settings.topic("metrics.traffic"),
            bool,
            deadline_s=30,
        )
    )
    assert published and "today" in published[-1]
