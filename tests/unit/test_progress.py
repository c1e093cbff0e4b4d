"""Agents' folded-message counters in a real Redis: flushed when due, kept when Redis fails."""

from __future__ import annotations

from redis.asyncio import Redis

from stream.models.keys import Keys
from stream.runtime.progress import FLUSH_EVERY_S, Progress, agent_times, folded
from stream.settings import Settings

KEYS = Keys.of(Settings())


async def test_counts_reach_redis_when_due_and_add_up(settings: Settings) -> None:
    redis = Redis.from_url(settings.redis_url)
    await redis.delete(KEYS.folded)
    now = [100.0]
    traffic = Progress(redis, KEYS, "count_traffic", clock=lambda: now[0])
    learner = Progress(redis, KEYS, "learn_online", clock=lambda: now[0])
    try:
        traffic.add(3)
        await traffic.flush()
        assert await folded(redis, KEYS) == {}  # not due yet: one write per interval at most
        now[0] += FLUSH_EVERY_S
        await traffic.flush()
        traffic.add(2)
        learner.add(1)
        await traffic.flush(force=True)
        await learner.flush(force=True)
        assert await folded(redis, KEYS) == {"count_traffic": 5, "learn_online": 1}
        assert traffic.pending == learner.pending == 0
    finally:
        await redis.aclose()


async def test_an_unreachable_redis_keeps_the_count_for_later() -> None:
    down = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    progress = Progress(down, KEYS, "count_forms")
    progress.add(7)
    await progress.flush(force=True)
    assert progress.pending == 7
    assert await folded(down, KEYS) == {}
    await down.aclose()


async def test_each_flush_checks_in_and_a_fold_moves_the_last_fold_time(settings: Settings) -> None:
    redis = Redis.from_url(settings.redis_url)
    await redis.delete(KEYS.folded, KEYS.folded_at, KEYS.seen_at)
    mono, wall = [0.0], [1_700_000_000.0]
    progress = Progress(redis, KEYS, "count_forms", clock=lambda: mono[0], wall=lambda: wall[0])
    try:
        wall[0] += 30
        mono[0] += 30
        await progress.flush()  # idle: checks in, the last fold stays at the start
        times = await agent_times(redis, KEYS)
        assert times.seen_at == {"count_forms": 1_700_000_030.0}
        assert times.folded_at == {"count_forms": 1_700_000_000.0}
        wall[0] += 5
        progress.add(2)
        wall[0] += 5
        await progress.flush(force=True)
        times = await agent_times(redis, KEYS)
        assert times.folded_at == {"count_forms": 1_700_000_035.0}
        assert times.seen_at == {"count_forms": 1_700_000_040.0}
        assert await folded(redis, KEYS) == {"count_forms": 2}
        await progress.flush()  # not due: no write at all
        assert (await agent_times(redis, KEYS)).seen_at == {"count_forms": 1_700_000_040.0}
    finally:
        await redis.aclose()


async def test_unreadable_times_written_by_someone_else_are_skipped(settings: Settings) -> None:
    redis = Redis.from_url(settings.redis_url)
    await redis.delete(KEYS.folded_at, KEYS.seen_at)
    await redis.hset(
        KEYS.seen_at,
        mapping={"ok": "12.5", "word": "soon", "nan": "nan", "inf": "inf", "empty": ""},
    )
    try:
        times = await agent_times(redis, KEYS)
        assert times.seen_at == {"ok": 12.5}
        assert times.folded_at == {}
    finally:
        await redis.aclose()
