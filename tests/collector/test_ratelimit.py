"""Per-client limits: 429 past the limit, fail open when Redis is down."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
import redis.asyncio as aioredis
from starlette.testclient import TestClient

from collector.app import create_app
from collector.ratelimit import RateLimiter
from stream.settings import Settings
from tests.collector.conftest import CLIENT_IP, Clock, MemorySink, event
from tests.conftest import free_port

LIMIT = 3


@pytest.fixture
def limited(collector_settings: Settings, sink: MemorySink, clock: Clock) -> Iterator[TestClient]:
    settings = dataclasses.replace(collector_settings, rate_limit_per_minute=LIMIT)
    with TestClient(
        create_app(settings, sink=sink, clock=clock), client=(CLIENT_IP, 40000)
    ) as client:
        yield client


def test_over_the_limit_is_429(limited: TestClient, sink: MemorySink, clock: Clock) -> None:
    statuses = [
        limited.post("/collect", json={"events": [event(i)]}).status_code for i in range(LIMIT)
    ]
    assert statuses == [202] * LIMIT
    clock.now += 10
    response = limited.post("/collect", json={"events": [event(9)]})
    assert response.status_code == 429
    assert response.json()["error"] == "rate_limited"
    # The clock stands 10 s into a minute window (noon is on a minute boundary).
    assert response.headers["retry-after"] == "50"
    assert len(sink.messages) == LIMIT


def test_limit_is_per_client(limited: TestClient, sink: MemorySink) -> None:
    for i in range(LIMIT + 1):
        limited.post("/collect", json={"events": [event(i)]})
    other = limited.post(
        "/collect", json={"events": [event(0)]}, headers={"user-agent": "Mozilla/5.0 (X11)"}
    )
    assert other.status_code == 202


def test_next_window_is_allowed_again(limited: TestClient, clock: Clock) -> None:
    for i in range(LIMIT + 1):
        limited.post("/collect", json={"events": [event(i)]})
    clock.now += 60
    assert limited.post("/collect", json={"events": [event(0)]}).status_code == 202


async def test_fails_open_without_redis() -> None:
    dead = aioredis.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5)
    limiter = RateLimiter(dead, per_minute=1)
    try:
        verdicts = [await limiter.hit("client", 1_000.0) for _ in range(3)]
    finally:
        await dead.aclose()
    assert all(v.allowed for v in verdicts)
    assert limiter.failed_open == 3


async def test_counts_in_redis_expire(redis_url: str) -> None:
    r = aioredis.Redis.from_url(redis_url)
    limiter = RateLimiter(r, per_minute=1)
    try:
        first = await limiter.hit("client-ttl", 120.0)
        second = await limiter.hit("client-ttl", 130.0)
        ttl = await r.ttl("dojo:rl:2:client-ttl")
    finally:
        await r.aclose()
    assert first.allowed and not second.allowed
    assert second.retry_after == 50
    assert 0 < ttl <= 120
