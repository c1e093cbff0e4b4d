"""Duplicate detection across requests, worker restarts and replicas, kept in Redis.

Each accepted ``event_id`` is claimed with ``SET key position NX GET EX ttl``. The value is
the position of the raw message that claimed it, so a message read again after a crash
(Kafka redelivers what was not committed) finds its *own* claim and is not mistaken for a
duplicate: nothing is lost, nothing counted twice. Redis going away blocks the agent with
retries instead of letting duplicates through; Kafka keeps the backlog meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

KEY_PREFIX = "dojo:dedupe:"


class Claims(Protocol):
    """Anything that can claim event ids for a source position (Redis in production)."""

    async def claim(self, claims: Sequence[tuple[str, str]]) -> list[bool]: ...


class RedisClaims:
    """Claims event ids in Redis for ``ttl_s`` seconds (at least the 24 h dedupe window)."""

    def __init__(self, redis: Redis, ttl_s: int, *, retry_s: float = 1.0) -> None:
        self._redis = redis
        self._ttl_s = ttl_s
        self._retry_s = retry_s

    async def claim(self, claims: Sequence[tuple[str, str]]) -> list[bool]:
        """For each (event id, position): True if that position owns the id.

        A position owns an id it claimed first, or claimed before and is reading again.
        """
        if not claims:
            return []
        attempt = 0
        while True:
            try:
                return await self._claim_once(claims)
            except (RedisError, OSError) as exc:
                attempt += 1
                # Waiting loses nothing: the raw message stays uncommitted in Kafka.
                log.warning(
                    "dedupe store unavailable (attempt %d): %s", attempt, type(exc).__name__
                )
                await asyncio.sleep(min(self._retry_s * attempt, 10.0))

    async def _claim_once(self, claims: Sequence[tuple[str, str]]) -> list[bool]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for event_id, position in claims:
                pipe.set(KEY_PREFIX + event_id, position, nx=True, get=True, ex=self._ttl_s)
            previous = await pipe.execute()
        return [
            old is None or old == position.encode() or old == position
            for old, (_, position) in zip(previous, claims, strict=True)
        ]
