"""The daily salt and visitor ids: rotation at midnight UTC, deletion after 48 h."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import redis.asyncio as aioredis

from collector.salt import (
    SaltCache,
    SaltUnavailable,
    daily_salt,
    salt_day,
    salt_expires_at,
    salt_key,
)
from collector.visitor import visitor_id

# Days far enough ahead that their salts have not expired when the test runs.
DAY = datetime(2032, 6, 1, tzinfo=UTC).timestamp()
SALT = "00" * 32


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


def test_salt_day_is_the_utc_date() -> None:
    assert salt_day(DAY - 1) == "2032-05-31"
    assert salt_day(DAY) == "2032-06-01"
    assert salt_key(DAY + 86_399) == "dojo:salt:2032-06-01"


def test_expiry_is_48h_after_day_start_whatever_the_hour() -> None:
    assert salt_expires_at(DAY) == DAY + 48 * 3600
    assert salt_expires_at(DAY + 86_399.9) == DAY + 48 * 3600


async def test_salt_is_created_once_per_day(redis: aioredis.Redis) -> None:
    day = DAY + 86_400 * (uuid.uuid4().int % 1000)  # a day no other test touches
    morning = await daily_salt(redis, day + 60)
    evening = await daily_salt(redis, day + 80_000)
    tomorrow = await daily_salt(redis, day + 86_400)
    assert morning == evening
    assert tomorrow != morning
    assert len(bytes.fromhex(morning)) == 32
    assert await redis.expiretime(salt_key(day)) == day + 48 * 3600


async def test_salts_older_than_48h_do_not_exist(redis: aioredis.Redis) -> None:
    now = datetime.now(UTC).timestamp()
    await daily_salt(redis, now)
    assert 0 < await redis.ttl(salt_key(now)) <= 48 * 3600
    three_days_ago = now - 3 * 86_400
    # Redis drops a key whose absolute expiry is already past, so no salt can linger.
    with pytest.raises(SaltUnavailable):
        await daily_salt(redis, three_days_ago)
    assert await redis.exists(salt_key(three_days_ago)) == 0


async def test_cache_never_crosses_midnight(redis: aioredis.Redis) -> None:
    cache = SaltCache(redis, max_age_s=5.0)
    day = DAY + 86_400 * (uuid.uuid4().int % 1000)
    before = await cache.get(day - 1)
    assert await cache.get(day - 0.5) == before
    assert await cache.get(day + 0.5) != before


async def test_cache_rereads_after_max_age(redis: aioredis.Redis) -> None:
    cache = SaltCache(redis, max_age_s=5.0)
    now = DAY + 86_400 * (uuid.uuid4().int % 1000) + 3600
    first = await cache.get(now)
    await redis.set(salt_key(now), "11" * 32)  # replaced by hand, e.g. to forget everyone
    assert await cache.get(now + 1) == first
    assert await cache.get(now + 6) == "11" * 32


def test_visitor_id_is_a_keyed_hash() -> None:
    a = visitor_id(SALT, "site", "198.51.100.1", "UA")
    assert len(a) == 32
    assert a == visitor_id(SALT, "site", "198.51.100.1", "UA")
    assert a != visitor_id("01" * 32, "site", "198.51.100.1", "UA")
    assert a != visitor_id(SALT, "other", "198.51.100.1", "UA")
    assert a != visitor_id(SALT, "site", "198.51.100.2", "UA")
    assert a != visitor_id(SALT, "site", "198.51.100.1", "UA2")


def test_visitor_id_parts_do_not_run_together() -> None:
    assert visitor_id(SALT, "ab", "c", "") != visitor_id(SALT, "a", "bc", "")
