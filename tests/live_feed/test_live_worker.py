"""The worker as the live feed reports it: /healthz, /metrics and the banner's data."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis
from starlette.testclient import TestClient

from live_feed import create_app
from live_feed.worker_health import ALIVE_S, FORGET_S, NOT_RUNNING, OK, STALE, STALE_S, judge
from stream.models.keys import Keys
from stream.runtime.progress import AgentTimes, Progress
from stream.settings import Secret, Settings
from tests.live_feed.conftest import FixedOffsets

EVENTS = ("dojo-pulse", "dojo.events")
RAW = ("dojo-pulse.validate", "dojo.events.raw")


def check_in(settings: Settings, agent: str, seen_ago: float, folded_ago: float) -> None:
    """Do what an agent's ``Progress`` does, with its clock set back."""
    now = time.time()

    async def write() -> None:
        client = Redis.from_url(settings.redis_url)
        progress = Progress(client, Keys.of(settings), agent, wall=lambda: now - folded_ago)
        progress.add(1)
        progress.wall = lambda: now - seen_ago
        await progress.flush(force=True)
        await client.aclose()

    asyncio.run(write())


def health_when(client: TestClient, ready: Any, timeout: float = 5.0) -> dict[str, Any]:
    """``/healthz`` once ``ready(body)`` holds (the lag is read in the background)."""
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = client.get("/healthz").json()
        if ready(body):
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"/healthz never got there: {body}")
        time.sleep(0.02)  # polling the background read, with a deadline


def metric_values(client: TestClient, **headers: str) -> dict[str, dict[str, float]]:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    out: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            key = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            out.setdefault(sample.name, {})[key] = sample.value
    return out


@pytest.fixture
def lagging(offsets: FixedOffsets) -> FixedOffsets:
    offsets.lags_now = {EVENTS: 40, RAW: 2}
    return offsets


def test_a_worker_that_never_checked_in_is_not_running(client: TestClient) -> None:
    body = health_when(client, lambda b: b["kafka"] == "ok")
    assert body["status"] == "ok"  # the feed itself is fine: the load balancer keeps it
    assert body["worker"] == NOT_RUNNING
    assert body["last_seen_s"] is None


def test_a_checked_in_worker_without_lag_is_ok(client: TestClient, settings: Settings) -> None:
    check_in(settings, "count_traffic", seen_ago=0.5, folded_ago=3600)  # idle for an hour
    body = health_when(client, lambda b: b["kafka"] == "ok")
    assert body["worker"] == OK
    assert body["lag"] == 0
    assert body["behind_s"] == 0


def test_a_killed_worker_with_lag_shows_everywhere(
    client: TestClient, settings: Settings, lagging: FixedOffsets
) -> None:
    check_in(settings, "count_traffic", seen_ago=90, folded_ago=300)
    check_in(settings, "count_forms", seen_ago=91, folded_ago=200)
    body = health_when(client, lambda b: b["lag"] == 42)
    assert body["worker"] == NOT_RUNNING
    assert body["behind_s"] == pytest.approx(300, abs=2)
    assert body["last_seen_s"] == pytest.approx(90, abs=2)
    values = metric_values(client)
    assert values["dojo_consumer_lag"] == {
        "group=dojo-pulse,topic=dojo.events": 40,
        "group=dojo-pulse.validate,topic=dojo.events.raw": 2,
    }
    assert values["dojo_worker_running"] == {"": 0}
    assert values["dojo_worker_behind_seconds"][""] == pytest.approx(300, abs=2)
    folds = values["dojo_agent_last_fold_timestamp_seconds"]
    assert folds["agent=count_traffic"] == pytest.approx(time.time() - 300, abs=2)
    assert set(values["dojo_agent_last_seen_timestamp_seconds"]) == {
        "agent=count_traffic",
        "agent=count_forms",
    }


def test_a_running_worker_that_stopped_folding_under_lag_is_stale(
    client: TestClient, settings: Settings, lagging: FixedOffsets
) -> None:
    check_in(settings, "count_traffic", seen_ago=0.2, folded_ago=STALE_S * 3)
    body = health_when(client, lambda b: b["lag"] == 42)
    assert body["worker"] == STALE
    assert body["behind_s"] == pytest.approx(STALE_S * 3, abs=2)
    assert metric_values(client)["dojo_worker_running"] == {"": 1}


def test_one_silent_agent_makes_the_worker_stale_and_is_named(
    client: TestClient, settings: Settings
) -> None:
    check_in(settings, "count_traffic", seen_ago=0.2, folded_ago=1)
    check_in(settings, "learn_online", seen_ago=ALIVE_S + 20, folded_ago=ALIVE_S + 20)
    body = health_when(client, lambda b: b["kafka"] == "ok")
    assert body["worker"] == STALE
    assert body["silent"] == ["learn_online"]


def test_kafka_unreachable_is_a_state_not_a_crash(
    client: TestClient, settings: Settings, offsets: FixedOffsets
) -> None:
    offsets.lags_now = {EVENTS: 7}
    health_when(client, lambda b: b["lag"] == 7)
    offsets.lags_now = None  # the broker goes away
    body = health_when(client, lambda b: b["kafka"] == "unreachable")
    assert body["status"] == "ok"
    assert body["lag"] is None
    values = metric_values(client)
    assert "dojo_consumer_lag" not in values  # absent, not a stale number
    assert values["dojo_consumer_lag_readable"] == {"": 0}
    assert values["dojo_consumer_lag_read_failures_total"][""] >= 1
    offsets.lags_now = {EVENTS: 0}  # and comes back
    assert health_when(client, lambda b: b["kafka"] == "ok")["lag"] == 0
    assert metric_values(client)["dojo_consumer_lag_readable"] == {"": 1}


def test_metric_types_follow_prometheus_conventions(client: TestClient, settings: Settings) -> None:
    check_in(settings, "count_traffic", seen_ago=0, folded_ago=0)
    text = client.get("/metrics").text
    types = dict(line.split(" ")[2:4] for line in text.splitlines() if line.startswith("# TYPE "))
    for name, kind in types.items():
        assert kind in ("counter", "gauge"), name
        # Counters end in _total; nothing else claims to be a total.
        assert name.endswith("_total") == (kind == "counter"), name
    assert types["dojo_consumer_lag"] == "gauge"
    assert types["dojo_agent_last_fold_timestamp_seconds"] == "gauge"
    assert types["dojo_worker_running"] == "gauge"
    assert types["dojo_live_auth_throttled_total"] == "counter"
    assert types["dojo_consumer_lag_read_failures_total"] == "counter"


@pytest.fixture
def guarded(settings: Settings, rdb: redis.Redis) -> Iterator[TestClient]:
    own = replace(settings, metrics_token=Secret("scrape-me-0123"))
    with TestClient(create_app(own, offsets=FixedOffsets({}))) as client:
        yield client


def test_metrics_token_when_set_is_required(guarded: TestClient, token: str) -> None:
    assert guarded.get("/metrics").status_code == 401
    assert guarded.get("/metrics").headers["www-authenticate"] == "Bearer"
    assert guarded.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
    # The admin token is not the metrics token, and the query string is never read.
    assert guarded.get("/metrics", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert guarded.get("/metrics?token=scrape-me-0123").status_code == 401
    ok = guarded.get("/metrics", headers={"Authorization": "Bearer scrape-me-0123"})
    assert ok.status_code == 200
    assert "dojo_worker_running" in ok.text
    assert guarded.get("/healthz").status_code == 200  # health stays open for load balancers


def test_metrics_are_open_without_a_metrics_token(client: TestClient) -> None:
    assert client.get("/metrics").status_code == 200


def test_judge_in_pure_terms() -> None:
    now = 10_000.0
    fresh = AgentTimes({"a": now - 5, "b": now - 100}, {"a": now - 1, "b": now - 2})
    assert judge(fresh, {EVENTS: 0}, now).state == OK
    assert judge(fresh, {EVENTS: 9}, now).state == STALE  # b has not folded for 100 s
    assert judge(fresh, {EVENTS: 9}, now).behind_s == 100
    assert judge(fresh, None, now).behind_s is None  # lag unknown: so is how far behind
    assert judge(fresh, None, now).state == OK
    gone = AgentTimes({"a": now - 50}, {"a": now - ALIVE_S - 1})
    assert judge(gone, {EVENTS: 0}, now).state == NOT_RUNNING
    forgotten = AgentTimes({}, {"a": now - 1, "old": now - FORGET_S - 1})
    assert judge(forgotten, {}, now).state == OK  # an agent no longer run is not missed
    skewed = AgentTimes({"a": now + 30}, {"a": now + 30})  # another host's clock ahead
    health = judge(skewed, {EVENTS: 3}, now)
    assert health.state == OK
    assert health.last_seen_s == 0
