"""The daily salt and visitor ids: rotation at midnight UTC, deletion after 48 h, and a salt
Redis lost mid-day written back by the replicas that hold it, or else flagged."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import orjson
import pytest
import redis.asyncio as aioredis

from collector.salt import (
    RESET_GRACE_S,
    Salt,
    SaltCache,
    SaltUnavailable,
    daily_salt,
    fetch_salt,
    replaced_a_lost_salt,
    reset_key,
    salt_day,
    salt_expires_at,
    salt_key,
    salt_reset_at,
)
from collector.visitor import visitor_id
from stream.models.keys import Keys
from stream.settings import Settings

# Days far enough ahead that their salts have not expired when the test runs.
DAY = datetime(2032, 6, 1, tzinfo=UTC).timestamp()
SALT = "00" * 32
KEYS = Keys.of(Settings())
TRAFFIC_SNAPSHOT = KEYS.snapshot("traffic")


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


def test_salt_day_is_the_utc_date() -> None:
    assert salt_day(DAY - 1) == "2032-05-31"
    assert salt_day(DAY) == "2032-06-01"
    assert salt_key(KEYS, DAY + 86_399) == KEYS.salt("2032-06-01")


def test_expiry_is_48h_after_day_start_whatever_the_hour() -> None:
    assert salt_expires_at(DAY) == DAY + 48 * 3600
    assert salt_expires_at(DAY + 86_399.9) == DAY + 48 * 3600


async def test_salt_is_created_once_per_day(redis: aioredis.Redis) -> None:
    day = DAY + 86_400 * (uuid.uuid4().int % 1000)  # a day no other test touches
    morning = await daily_salt(redis, KEYS, day + 60)
    evening = await daily_salt(redis, KEYS, day + 80_000)
    tomorrow = await daily_salt(redis, KEYS, day + 86_400)
    assert morning == evening
    assert tomorrow != morning
    assert len(bytes.fromhex(morning)) == 32
    assert await redis.expiretime(salt_key(KEYS, day)) == day + 48 * 3600


async def test_salts_older_than_48h_do_not_exist(redis: aioredis.Redis) -> None:
    now = datetime.now(UTC).timestamp()
    await daily_salt(redis, KEYS, now)
    assert 0 < await redis.ttl(salt_key(KEYS, now)) <= 48 * 3600
    three_days_ago = now - 3 * 86_400
    # Redis drops a key whose absolute expiry is already past, so no salt can linger.
    with pytest.raises(SaltUnavailable):
        await daily_salt(redis, KEYS, three_days_ago)
    assert await redis.exists(salt_key(KEYS, three_days_ago)) == 0


async def test_cache_never_crosses_midnight(redis: aioredis.Redis) -> None:
    cache = SaltCache(redis, KEYS, max_age_s=5.0)
    day = DAY + 86_400 * (uuid.uuid4().int % 1000)
    before = await cache.get(day - 1)
    assert await cache.get(day - 0.5) == before
    assert await cache.get(day + 0.5) != before


async def test_cache_rereads_after_max_age(redis: aioredis.Redis) -> None:
    cache = SaltCache(redis, KEYS, max_age_s=5.0)
    now = DAY + 86_400 * (uuid.uuid4().int % 1000) + 3600
    first = await cache.get(now)
    await redis.set(salt_key(KEYS, now), "11" * 32)  # replaced by hand, e.g. to forget everyone
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


def some_day() -> float:
    """The start of a day no other test touches."""
    return DAY + 86_400 * (uuid.uuid4().int % 1000)


def traffic(views: object, at_s: float) -> bytes:
    return orjson.dumps(
        {"channel": "traffic", "data": {"today": {"views": views}}, "ts": int(at_s * 1000)}
    )


async def test_a_salt_redis_lost_is_written_back_by_a_replica_that_holds_it(
    redis: aioredis.Redis,
) -> None:
    resets: list[int] = []
    cache = SaltCache(redis, KEYS, max_age_s=5.0, on_reset=lambda: resets.append(1))
    day = some_day()
    noon = day + 12 * 3600
    before = await cache.get(day + 10)
    stored = await redis.get(salt_key(KEYS, noon))
    await redis.delete(salt_key(KEYS, noon), TRAFFIC_SNAPSHOT)  # Redis lost everything
    assert await cache.get(noon + 10) == before
    # The same record, creation time included, with the same end of life.
    assert await redis.get(salt_key(KEYS, noon)) == stored
    assert await redis.expiretime(salt_key(KEYS, noon)) == salt_expires_at(noon)
    assert await salt_reset_at(redis, KEYS, noon) is None
    assert resets == []


async def test_a_salt_nobody_holds_is_made_anew_and_the_day_flagged(
    redis: aioredis.Redis,
) -> None:
    day = some_day()
    early = SaltCache(redis, KEYS)
    first = await early.get(day + 30)
    await redis.delete(salt_key(KEYS, day), salt_key(KEYS, day - 86_400))  # Redis lost its keys
    await redis.set(TRAFFIC_SNAPSHOT, traffic(1234, day + 3 * 3600))  # the day had traffic
    resets: list[int] = []
    restarted = SaltCache(redis, KEYS, on_reset=lambda: resets.append(1))  # holds nothing
    afternoon = day + 15 * 3600 + 7
    second = await restarted.get(afternoon)
    assert second != first
    assert await salt_reset_at(redis, KEYS, day) == int(afternoon)
    assert resets == [1]
    assert await redis.expiretime(reset_key(KEYS, day)) == salt_expires_at(day)
    # A replica that still held the old salt agrees on the new one (it came second).
    assert await early.get(afternoon + 10) == second


async def test_a_second_loss_of_redis_keeps_the_days_reset_flag(redis: aioredis.Redis) -> None:
    """The flag says the day's visitors are over-counted; Redis losing its keys again must not
    erase it: the replica that writes the salt back writes the flag back with it."""
    day = some_day()
    await SaltCache(redis, KEYS).get(day + 30)
    await redis.delete(salt_key(KEYS, day), salt_key(KEYS, day - 86_400))
    await redis.set(TRAFFIC_SNAPSHOT, traffic(50, day + 3600))
    replica = SaltCache(redis, KEYS, max_age_s=5.0)  # holds nothing: makes the salt anew
    afternoon = day + 14 * 3600
    salt = await replica.get(afternoon)
    assert await salt_reset_at(redis, KEYS, day) == int(afternoon)
    await redis.flushdb()  # the second loss: salt, flag, snapshot, everything
    resets: list[int] = []
    restarted = SaltCache(redis, KEYS, on_reset=lambda: resets.append(1))
    assert await replica.get(afternoon + 3600) == salt  # written back, with its flag
    assert await salt_reset_at(redis, KEYS, day) == int(afternoon)
    assert await redis.expiretime(reset_key(KEYS, day)) == salt_expires_at(day)
    assert await restarted.get(afternoon + 3601) == salt  # agrees, and counts no new reset
    assert resets == []


async def test_a_flag_that_is_not_an_epoch_second_is_read_as_none(redis: aioredis.Redis) -> None:
    day = some_day()
    first = await fetch_salt(redis, KEYS, day + 30)
    for junk in (b"\xff\xfe", b"-1", "\u0663".encode(), b"9" * 40, b""):
        await redis.set(reset_key(KEYS, day), junk)
        salt = await fetch_salt(redis, KEYS, day + 31)  # reads the flag, never crashes on it
        assert (salt, salt.reset_at) == (first, None)
    await redis.set(reset_key(KEYS, day), b"1234")
    assert (await fetch_salt(redis, KEYS, day + 32)).reset_at == 1234


async def test_the_days_first_salt_raises_no_flag(redis: aioredis.Redis) -> None:
    day = some_day()
    resets: list[int] = []
    await SaltCache(redis, KEYS, on_reset=lambda: resets.append(1)).get(day + RESET_GRACE_S - 1)
    await redis.set(TRAFFIC_SNAPSHOT, traffic(0, day + 3600))
    await redis.delete(salt_key(KEYS, day), salt_key(KEYS, day - 86_400))
    # A quiet day: the worker's snapshot says nobody came yet, so a late first salt is fine.
    await SaltCache(redis, KEYS, on_reset=lambda: resets.append(1)).get(day + 9 * 3600)
    assert resets == []
    assert await salt_reset_at(redis, KEYS, day) is None


async def test_a_late_first_salt_after_yesterdays_is_a_quiet_morning(
    redis: aioredis.Redis,
) -> None:
    day = some_day()
    await daily_salt(redis, KEYS, day - 3600)  # yesterday's salt: Redis kept its keys
    await redis.delete(salt_key(KEYS, day), TRAFFIC_SNAPSHOT)
    resets: list[int] = []
    await SaltCache(redis, KEYS, on_reset=lambda: resets.append(1)).get(day + 10 * 3600)
    assert resets == []
    assert await salt_reset_at(redis, KEYS, day) is None


def test_salt_records_carry_their_making_time_and_read_old_ones() -> None:
    salt = Salt("ab" * 32, 1_900_000_000)
    assert Salt.parse(salt.record().encode()) == salt
    assert Salt.parse("cd" * 32) == Salt("cd" * 32, 0)  # stored before times were kept
    assert Salt.parse(b"ef" * 32 + b".x") == Salt("ef" * 32, 0)


@pytest.mark.parametrize(
    ("snapshot", "flagged"),
    [
        (None, True),  # lost with the salt: cannot rule traffic out
        (traffic(5, DAY + 3600), True),
        (traffic(0, DAY + 3600), False),
        (traffic(0, DAY - 3600), True),  # yesterday's: says nothing about today
        (traffic("5", DAY + 3600), True),
        (traffic(None, DAY + 3600), True),
        (orjson.dumps({"data": [], "ts": 1}), True),
        (orjson.dumps({"data": {"today": {"views": 0}}, "ts": 2**62}), True),
        (orjson.dumps({"data": {"today": {"views": 0}}, "ts": -(2**62)}), True),
        (b"\xff\xfe", True),
        (b"[1, 2]", True),
        (b"null", True),
    ],
)
def test_a_late_salt_is_a_reset_unless_the_day_had_no_traffic(
    snapshot: bytes | None, flagged: bool
) -> None:
    late = Salt("00" * 32, int(DAY) + RESET_GRACE_S + 1)
    assert replaced_a_lost_salt(late, snapshot, DAY + 7200) is flagged
    early = Salt("00" * 32, int(DAY) + RESET_GRACE_S)
    assert replaced_a_lost_salt(early, snapshot, DAY + 7200) is False
