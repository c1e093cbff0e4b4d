"""Duplicate claims in a real Redis: first claim wins, a re-read of the same message keeps its own."""

from __future__ import annotations

from redis.asyncio import Redis

from stream.dedupe import KEY_PREFIX, RedisClaims
from stream.settings import Settings


async def test_claims_are_owned_by_their_first_position_only(settings: Settings) -> None:
    redis = Redis.from_url(settings.redis_url)
    await redis.delete(*(KEY_PREFIX + f"evt_dedupe_{n}" for n in range(3)))
    claims = RedisClaims(redis, ttl_s=3600)
    try:
        first = await claims.claim([("evt_dedupe_0", "0:1"), ("evt_dedupe_1", "0:1")])
        again = await claims.claim(
            [("evt_dedupe_0", "0:1"), ("evt_dedupe_1", "1:9"), ("evt_dedupe_2", "1:9")]
        )
        assert first == [True, True]
        # Re-reading 0:1 after a crash still owns its ids; another message does not.
        assert again == [True, False, True]
        assert await redis.get(KEY_PREFIX + "evt_dedupe_1") == b"0:1"
        assert 0 < await redis.ttl(KEY_PREFIX + "evt_dedupe_2") <= 3600
        assert await claims.claim([]) == []
    finally:
        await redis.aclose()
