"""Per-client limits: keyed on the address alone, shared across processes, never failing open."""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
import uvicorn
from starlette.testclient import TestClient

from collector.app import create_app
from collector.ratelimit import LEASE_SHARE, RateLimiter, client_bucket, window_key
from collector.salt import daily_salt
from stream.models.keys import Keys
from stream.settings import Settings
from tests.collector.conftest import CLIENT_IP, NOON, Clock, MemorySink, event
from tests.conftest import free_port

LIMIT = 3
KEYS = Keys.of(Settings())


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


def test_a_new_user_agent_per_request_does_not_escape_the_limit(
    collector_settings: Settings, sink: MemorySink, clock: Clock
) -> None:
    limit = collector_settings.rate_limit_per_minute  # the default, 600
    statuses: Counter[int] = Counter()
    asyncio.run(redis_stats(collector_settings.redis_url, reset=True))
    app = create_app(collector_settings, sink=sink, clock=clock)
    with TestClient(app, client=(CLIENT_IP, 40000)) as client:
        for i in range(5_000):
            agent = f"Mozilla/5.0 (X11; Linux x86_64; rv:{i}.0) Gecko/20100101 Firefox/{i}.0"
            reply = client.post(
                "/collect", json={"events": [event(i)]}, headers={"user-agent": agent}
            )
            statuses[reply.status_code] += 1
    assert statuses == {202: limit, 429: 5_000 - limit}
    assert len(sink.messages) == limit
    # Leased tokens: the flood cost the limiter a few dozen Redis calls, not 5,000.
    stats = asyncio.run(redis_stats(collector_settings.redis_url))
    claims = stats.get("cmdstat_evalsha", {}).get("calls", 0) + stats.get("cmdstat_eval", {}).get(
        "calls", 0
    )
    assert 0 < claims <= 40


async def redis_stats(url: str, *, reset: bool = False) -> dict[str, Any]:
    """Redis's per-command call counts (``INFO commandstats``), optionally reset first."""
    r = aioredis.Redis.from_url(url)
    try:
        if reset:
            await r.config_resetstat()
        return dict(await r.info("commandstats"))
    finally:
        await r.aclose()


def test_the_limit_is_per_address_and_shared_by_collector_processes(
    collector_settings: Settings, clock: Clock
) -> None:
    settings = dataclasses.replace(collector_settings, rate_limit_per_minute=LIMIT)
    one, two = create_app(settings, MemorySink(), clock), create_app(settings, MemorySink(), clock)
    body = {"events": [event(0)]}
    with (
        TestClient(one, client=(CLIENT_IP, 1)) as first,
        TestClient(two, client=(CLIENT_IP, 2)) as same_address,
        TestClient(two, client=("198.51.100.9", 3)) as other_address,
    ):
        statuses = [c.post("/collect", json=body).status_code for c in (first, same_address) * 3]
        assert statuses == [202, 202, 202, 429, 429, 429]
        assert other_address.post("/collect", json=body).status_code == 202


def test_next_window_is_allowed_again(limited: TestClient, clock: Clock) -> None:
    for i in range(LIMIT + 1):
        limited.post("/collect", json={"events": [event(i)]})
    clock.now += 60
    assert limited.post("/collect", json={"events": [event(0)]}).status_code == 202


def test_ipv6_clients_are_limited_per_64() -> None:
    salt = "00" * 32
    bucket = client_bucket(salt, "site", "2001:db8:1:2::1")
    assert client_bucket(salt, "site", "2001:db8:1:2:ffff:ffff:ffff:ffff") == bucket
    assert client_bucket(salt, "site", "2001:db8:1:3::1") != bucket
    assert client_bucket(salt, "site", "192.0.2.1") != client_bucket(salt, "site", "192.0.2.2")
    assert "192.0.2.1" not in client_bucket(salt, "site", "192.0.2.1")
    # Not an address at all (a unix socket, a test client): limited as given, still hashed.
    assert len(client_bucket(salt, "site", "testclient\x00' OR 1=1")) == 32


@pytest.mark.parametrize("policy", ["closed", "open"])
async def test_without_redis_the_policy_decides_and_counts(policy: str) -> None:
    dead = aioredis.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5)
    limiter = RateLimiter(dead, KEYS, per_minute=1, fail=policy)
    try:
        verdicts = [await limiter.hit("client", 1_000.0) for _ in range(3)]
    finally:
        await dead.aclose()
    assert all(v.failed for v in verdicts)
    assert all(v.allowed is (policy == "open") for v in verdicts)
    assert limiter.failures == 3
    assert limiter.failed_open == (3 if policy == "open" else 0)


def test_a_limiter_that_cannot_judge_answers_503_and_counts_it(
    collector_settings: Settings, sink: MemorySink, clock: Clock
) -> None:
    async def break_the_window_key() -> None:
        r = aioredis.Redis.from_url(collector_settings.redis_url)
        salt = await daily_salt(r, KEYS, NOON)
        bucket = client_bucket(salt, collector_settings.site_id, CLIENT_IP)
        # A key of the wrong type makes Redis refuse the claim, as a failing server would.
        await r.lpush(window_key(KEYS, bucket, NOON), "not a counter")
        await r.aclose()

    asyncio.run(break_the_window_key())
    app = create_app(collector_settings, sink=sink, clock=clock)
    with TestClient(app, client=(CLIENT_IP, 40000)) as client:
        reply = client.post("/collect", json={"events": [event(0)]})
        metrics = client.get("/metrics").text
    assert reply.status_code == 503
    assert reply.json()["error"] == "unavailable"
    assert reply.headers["retry-after"]
    assert sink.messages == []
    assert "dojo_collector_rate_limit_failures_total 1.0" in metrics
    assert 'dojo_collector_requests_refused_total{reason="unavailable",route="collect"} 1.0' in (
        metrics
    )


async def test_counts_in_redis_expire(redis_url: str) -> None:
    r = aioredis.Redis.from_url(redis_url)
    limiter = RateLimiter(r, KEYS, per_minute=1)
    try:
        first = await limiter.hit("client-ttl", 120.0)
        second = await limiter.hit("client-ttl", 130.0)
        ttl = await r.ttl(KEYS.rate_limit(2, "client-ttl"))
    finally:
        await r.aclose()
    assert first.allowed and not second.allowed
    assert second.retry_after == 50
    assert 0 < ttl <= 120


async def test_processes_racing_share_one_limit_exactly(redis_url: str) -> None:
    limit = 600
    r = aioredis.Redis.from_url(redis_url)
    limiters = [RateLimiter(r, KEYS, per_minute=limit) for _ in range(3)]
    try:
        verdicts = await asyncio.gather(
            *(limiters[i % 3].hit("client-race", 6_000.0) for i in range(3_000))
        )
        stored = int(await r.get(window_key(KEYS, "client-race", 6_000.0)) or 0)
    finally:
        await r.aclose()
    # Every leased token is spent (more requests than tokens), so exactly the limit passes.
    assert sum(v.allowed for v in verdicts) == limit
    assert stored == limit
    # Leases grow to limit/LEASE_SHARE: a flood costs each process ~log2 + LEASE_SHARE claims.
    assert limit // LEASE_SHARE == 30


async def test_a_burst_of_500_concurrent_requests_never_fails_open(
    collector_settings: Settings,
) -> None:
    limit = 100
    settings = dataclasses.replace(collector_settings, rate_limit_per_minute=limit)
    sink = MemorySink()
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            # A fixed clock: a burst straddling a minute boundary would meet two windows.
            create_app(settings, sink=sink, clock=Clock(NOON)),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
            limit_concurrency=2_000,
            backlog=2_048,
        )
    )
    serving = asyncio.create_task(server.serve())
    try:
        deadline = asyncio.get_running_loop().time() + 20
        while not server.started:
            assert not serving.done(), "the server stopped before it started"
            assert asyncio.get_running_loop().time() < deadline, "the server did not start"
            await asyncio.sleep(0.05)  # polling the server's started flag, with a deadline
        limits = httpx.Limits(max_connections=500, max_keepalive_connections=0)
        async with httpx.AsyncClient(limits=limits, timeout=60) as client:

            async def post(i: int) -> int:
                reply = await client.post(
                    f"http://127.0.0.1:{port}/collect",
                    json={"events": [event(i)]},
                    headers={"user-agent": f"burst-{i}"},
                )
                return reply.status_code

            statuses = Counter(await asyncio.gather(*(post(i) for i in range(500))))
    finally:
        server.should_exit = True
        await serving
    assert statuses == {202: limit, 429: 500 - limit}
    assert len(sink.messages) == limit
