"""Agents' folded-message counters in a real Redis: flushed when due, kept when Redis fails."""

from __future__ import annotations

from redis.asyncio import Redis

from stream.progress import FLUSH_EVERY_S, FOLDED_KEY, Progress, folded
from stream.settings import Settings


async def test_counts_reach_redis_when_due_and_add_up(settings: Settings) -> None:
    redis = Redis.from_url(settings.redis_url)
    await redis.delete(FOLDED_KEY)
    now = [100.0]
    traffic = Progress(redis, "count_traffic", clock=lambda: now[0])
    learner = Progress(redis, "learn_online", clock=lambda: now[0])
    try:
        traffic.add(3)
        await traffic.flush()
        assert await folded(redis) == {}  # not due yet: one write per interval at most
        now[0] += FLUSH_EVERY_S
        await traffic.flush()
        traffic.add(2)
        learner.add(1)
        await traffic.flush(force=True)
        await learner.flush(force=True)
        assert await folded(redis) == {"count_traffic": 5, "learn_online": 1}
        assert traffic.pending == learner.pending == 0
    finally:
        await redis.aclose()


async def test_an_unreachable_redis_keeps_the_count_for_later() -> None:
    down = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    progress = Progress(down, "count_forms")
    progress.add(7)
    await progress.flush(force=True)
    assert progress.pending == 7
    assert await folded(down) == {}
    await down.aclose()
