"""Pipeline counters in a real Redis: a flush of Redis does not send the totals back to zero."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from redis.asyncio import Redis

from stream.metrics.pipeline import PipelineStats
from stream.models.keys import Keys
from stream.settings import Settings
from stream.sinks.publish import SnapshotPublisher

NOW_S = 1_900_000_000.0
MINUTE = int(NOW_S * 1000) // 60_000 * 60_000
KEYS = Keys.of(Settings())


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[Redis]:
    client = Redis.from_url(settings.redis_url)
    await client.flushdb()
    yield client
    await client.aclose()


def clean(events: int) -> dict[str, Any]:
    return {"received_at": MINUTE + 5, "events": [{}] * events}


def dead(reason: str) -> dict[str, Any]:
    return {"received_at": MINUTE + 5, "reason": reason}


async def totals(redis: Redis) -> dict[str, int]:
    return {k.decode(): int(v) for k, v in (await redis.hgetall(KEYS.pipeline)).items()}


async def test_totals_survive_a_redis_flush(redis: Redis) -> None:
    stats = PipelineStats(redis, KEYS, SnapshotPublisher(redis, KEYS), clock=lambda: NOW_S)
    stats.add([clean(3), clean(2)], [dead("schema"), dead("bot")], scrubbed=1)
    await stats.flush()
    await redis.flushall()
    stats.add([clean(4)], [dead("duplicate")], scrubbed=0)
    await stats.flush()
    assert await totals(redis) == {
        "valid": 9,
        "dead_lettered": 3,
        "scrubbed": 1,
        "reason:schema": 1,
        "reason:bot": 1,
        "reason:duplicate": 1,
    }
    assert int(await redis.get(KEYS.events_processed) or 0) == 12
    # Crawlers are left out of the minute's dead count.
    minute = await redis.hgetall(KEYS.ingest_minute(MINUTE))
    assert {k.decode(): int(v) for k, v in minute.items()} == {"valid": 9, "dead": 2}
    stats.add([clean(1)], [], scrubbed=0)
    await stats.flush()  # nothing lost this time: nothing restored twice
    assert (await totals(redis))["valid"] == 10
    assert int(await redis.get(KEYS.events_processed) or 0) == 13


async def test_a_fresh_worker_on_a_fresh_redis_starts_from_zero(redis: Redis) -> None:
    stats = PipelineStats(redis, KEYS, SnapshotPublisher(redis, KEYS), clock=lambda: NOW_S)
    await stats.flush()  # nothing counted: no write at all
    assert await redis.exists(KEYS.pipeline) == 0
    stats.add([], [dead("malformed")], scrubbed=0)
    await stats.flush()
    assert await totals(redis) == {
        "valid": 0,
        "dead_lettered": 1,
        "scrubbed": 0,
        "reason:malformed": 1,
    }


async def test_the_last_counts_of_a_burst_are_published_once_the_gap_has_passed(
    redis: Redis,
) -> None:
    """A flush within the publishing gap adds to the totals but cannot publish; a later
    flush, even with nothing new, publishes them (else the panel keeps the older counts)."""
    now = [NOW_S]
    stats = PipelineStats(
        redis, KEYS, SnapshotPublisher(redis, KEYS), max_hz=2.0, clock=lambda: now[0]
    )

    async def shown() -> int:
        raw = await redis.get(KEYS.snapshot("pipeline"))
        return 0 if raw is None else int(orjson.loads(raw)["data"]["valid"])

    stats.add([clean(3)], [], 0)
    await stats.flush()
    assert await shown() == 3
    now[0] += 0.1  # within the half-second gap
    stats.add([clean(4)], [], 0)
    await stats.flush()
    assert await shown() == 3
    await stats.flush()  # nothing new, and still within the gap
    assert await shown() == 3
    now[0] += 0.5
    await stats.flush()  # nothing new: the unpublished totals go out now
    assert await shown() == 7
    await redis.delete(KEYS.snapshot("pipeline"))
    now[0] += 1.0
    await stats.flush()  # published once: nothing is sent again without news
    assert await redis.get(KEYS.snapshot("pipeline")) is None
