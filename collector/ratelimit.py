"""Per-client request limits in Redis: a fixed one-minute window per visitor id.

The key is the visitor id, never the IP: many children at one dojo venue share one IP,
and the id is already a salted hash, so Redis holds nothing that names a client.
When Redis is down the limit fails open (a warning and a count): losing the limit for a
while is better than refusing every beacon.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

WINDOW_S = 60
KEY_PREFIX = "dojo:rl:"


@dataclass(frozen=True)
class Verdict:
    """Whether one request may pass, and if not how many seconds until it may."""

    allowed: bool
    retry_after: int = 0


def window_key(client: str, now: float) -> str:
    """The Redis key counting ``client``'s requests in the window holding ``now``."""
    return f"{KEY_PREFIX}{int(now // WINDOW_S)}:{client}"


class RateLimiter:
    """Counts requests per client and window; fails open when Redis is unavailable."""

    def __init__(self, redis: aioredis.Redis, per_minute: int) -> None:
        self._redis = redis
        self._per_minute = per_minute
        self.failed_open = 0  # requests let through unchecked because Redis was down

    async def hit(self, client: str, now: float) -> Verdict:
        """Count one request by ``client`` at epoch second ``now`` and judge it."""
        key = window_key(client, now)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(key)
                # Two windows, so the key outlives its window even with clock skew
                # between replicas, then disappears by itself.
                pipe.expire(key, 2 * WINDOW_S)
                count, _ = await pipe.execute()
        except (RedisError, OSError) as exc:
            self.failed_open += 1
            log.warning("rate limit skipped, Redis unavailable: %s", type(exc).__name__)
            return Verdict(True)
        if int(count) <= self._per_minute:
            return Verdict(True)
        window_end = (int(now // WINDOW_S) + 1) * WINDOW_S
        return Verdict(False, max(1, math.ceil(window_end - now)))
