"""A snapshot written in keyed parts by several processes: merged, none erasing another."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import orjson
import pytest
from redis.asyncio import Redis

from stream.models.keys import Keys
from stream.settings import Settings
from stream.sinks.publish import SnapshotPublisher, decode_parts, merge_parts

KEYS = Keys.of(Settings())
ANOMALY = {"kind": "spike", "metric": "views", "minute": 60_000}
BACKUP = {"kind": "drop", "metric": "backup", "minute": 120_000}


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[Redis]:
    client = Redis.from_url(settings.redis_url)
    await client.flushdb()
    try:
        yield client
    finally:
        await client.aclose()


async def stored(redis: Redis) -> object:
    raw = await redis.get(KEYS.snapshot("alerts"))
    return orjson.loads(raw)["data"] if raw else None


def test_lists_join_in_source_order_and_other_fields_come_from_the_first() -> None:
    parts = {
        "learn_online": {"alerts": [ANOMALY], "false_alert_rate": None},
        "backup": {"alerts": [BACKUP], "false_alert_rate": 0.5},
        "odd": {"alerts": "not a list", "extra": 1},
    }
    assert merge_parts(parts) == {
        "alerts": [BACKUP, ANOMALY],
        "false_alert_rate": 0.5,
        "extra": 1,
    }
    assert merge_parts({}) == {}


def test_parts_that_are_not_json_objects_are_left_out() -> None:
    hostile = {b"a": b"[1]", b"b": b"7", b"c": b"null", b"d": b'"x"', b"e": b"{", b"f": b"\xff",
               b"\xfe": b'{"alerts": []}', "g": '{"alerts": [1]}'}  # fmt: skip
    assert decode_parts(hostile) == {"\ufffd": {"alerts": []}, "g": {"alerts": [1]}}


async def test_a_source_publishing_keeps_the_others_part(redis: Redis) -> None:
    publisher = SnapshotPublisher(redis, KEYS)
    assert await publisher.publish_part("alerts", "backup", {"alerts": [BACKUP]}, 1)
    assert await publisher.publish_part("alerts", "learn_online", {"alerts": [ANOMALY]}, 2)
    assert await publisher.publish_part("alerts", "learn_online", {"alerts": []}, 3)
    assert await stored(redis) == {"alerts": [BACKUP]}
    assert await publisher.part("alerts", "backup") == {"alerts": [BACKUP]}
    assert await publisher.publish_part("alerts", "backup", None, 4)
    assert await stored(redis) == {"alerts": []}
    assert await publisher.part("alerts", "backup") is None
    assert publisher.failures == 0


async def test_a_corrupt_part_in_redis_does_not_stop_the_others(redis: Redis) -> None:
    await redis.hset(KEYS.snapshot_parts("alerts"), "junk", b"\xff\x00{")
    publisher = SnapshotPublisher(redis, KEYS)
    assert await publisher.publish_part("alerts", "backup", {"alerts": [BACKUP]}, 1)
    assert await stored(redis) == {"alerts": [BACKUP]}
    assert await publisher.part("alerts", "junk") is None


async def test_racing_writers_each_end_in_the_snapshot(redis: Redis) -> None:
    # Two clients, as two processes, each publishing in turn as fast as Redis answers.
    other = Redis.from_url(_url(redis))

    async def write(publisher: SnapshotPublisher, source: str) -> None:
        for n in range(60):
            assert await publisher.publish_part("alerts", source, {"alerts": [{source: n}]}, n)

    try:
        mine, theirs = SnapshotPublisher(redis, KEYS), SnapshotPublisher(other, KEYS)
        await asyncio.gather(write(mine, "a"), write(theirs, "b"))
        # The newest merge is the one shown: an older one never lands after it.
        assert await stored(redis) == {"alerts": [{"a": 59}, {"b": 59}]}
    finally:
        await other.aclose()


async def test_a_redis_that_is_gone_is_a_counted_failure_not_an_error() -> None:
    gone = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    publisher = SnapshotPublisher(gone, KEYS)
    try:
        assert not await publisher.publish_part("alerts", "backup", {"alerts": []}, 1)
        assert await publisher.part("alerts", "backup") is None
    finally:
        await gone.aclose()
    assert publisher.failures == 1


def _url(redis: Redis) -> str:
    kw = redis.connection_pool.connection_kwargs
    return f"redis://{kw['host']}:{kw['port']}/{kw.get('db', 0)}"
