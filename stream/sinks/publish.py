"""Hand metric snapshots to the live feed through Redis.

Contract with ``live_feed``: the latest snapshot of a channel is stored under
``Keys.snapshot(channel)`` and each new one is published on ``Keys.live(channel)``, both
as ``{"channel", "data", "ts"}`` JSON. Redis is a cache here, never the source of truth:
if it is down the snapshot is skipped (and rebuilt from Kafka-backed state next time).
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from stream.models.keys import Keys

log = logging.getLogger(__name__)


def envelope(channel: str, data: Any, now_ms: int) -> bytes:
    """The JSON every snapshot travels in."""
    return orjson.dumps({"channel": channel, "data": data, "ts": now_ms})


class SnapshotPublisher:
    """Stores and publishes snapshots; counts failures instead of raising them."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._redis = redis
        self.keys = keys
        self.failures = 0

    async def publish(self, channel: str, data: Any, now_ms: int) -> bool:
        """Store ``data`` as the latest snapshot of ``channel`` and tell subscribers."""
        body = envelope(channel, data, now_ms)
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.set(self.keys.snapshot(channel), body)
                pipe.publish(self.keys.live(channel), body)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            self.failures += 1
            log.warning("snapshot for %s not published: %s", channel, type(exc).__name__)
            return False
        return True
