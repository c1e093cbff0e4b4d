"""Partials in a real Redis: other workers' checkpoints merged, lost ones shared again."""

from __future__ import annotations

from redis.asyncio import Redis

from stream.runtime.partials import other_partitions, share_again
from stream.runtime.rollup import Rollup, encode_checkpoint
from stream.settings import Settings
from tests.conftest import free_port
from tests.unit.test_runtime_fold import Count

KEY = "test:partials"


def blob(n: int) -> bytes:
    return encode_checkpoint({0: n}, {}, Count(n))


async def test_reads_only_the_partitions_other_workers_own(settings: Settings) -> None:
    redis = Redis.from_url(settings.redis_url)
    rollup: Rollup[Count] = Rollup(Count, Count.load)
    try:
        await redis.delete(KEY)
        await redis.hset(KEY, mapping={"0": blob(5), "1": blob(7), "2": blob(11)})
        assert await other_partitions(redis, KEY, rollup, 4, Count.load) == []  # owns none yet
        rollup.restore(1, None)
        others = await other_partitions(redis, KEY, rollup, 4, Count.load)
        assert sorted(state.n for state in others) == [5, 11]  # 3 has no checkpoint yet
        for p in (0, 2, 3):
            rollup.restore(p, None)
        assert await other_partitions(redis, KEY, rollup, 4, Count.load) == []  # owns all
    finally:
        await redis.delete(KEY)
        await redis.aclose()


async def test_puts_back_only_what_redis_lost(settings: Settings) -> None:
    redis = Redis.from_url(settings.redis_url)
    try:
        await redis.delete(KEY)
        await redis.hset(KEY, "0", b"newer, written by the owner")
        await share_again(redis, KEY, {0: blob(1), 3: blob(3)})
        assert await redis.hgetall(KEY) == {b"0": b"newer, written by the owner", b"3": blob(3)}
        await share_again(redis, KEY, {})  # a worker that holds nothing writes nothing
        assert await redis.hlen(KEY) == 2
    finally:
        await redis.delete(KEY)
        await redis.aclose()


async def test_redis_away_costs_the_others_numbers_not_the_agent() -> None:
    dead = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5)
    rollup: Rollup[Count] = Rollup(Count, Count.load)
    rollup.restore(0, None)
    try:
        assert await other_partitions(dead, KEY, rollup, 4, Count.load) == []
        await share_again(dead, KEY, {0: blob(1)})  # swallowed: the next call tries again
    finally:
        await dead.aclose()
