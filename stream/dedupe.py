"""Duplicate detection across requests, worker restarts and replicas, kept in Redis.

Each accepted ``event_id`` is claimed with ``SET key position NX GET EX ttl``; the claims of
one take go in one server-side script call (one command to encode and parse instead of one
per event, which cost more than the validation itself). The value is
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
# KEYS: dedupe keys; ARGV[1]: ttl in seconds, ARGV[i + 1]: the owner of KEYS[i].
# Answers 1 where that owner holds the key (claimed now, or by the same position before).
CLAIM_SCRIPT = """
local owned = {}
for i, key in ipairs(KEYS) do
  local previous = redis.call('SET', key, ARGV[i + 1], 'NX', 'GET', 'EX', ARGV[1])
  owned[i] = (previous == false or previous == ARGV[i + 1]) and 1 or 0
end
return owned
"""


class Claims(Protocol):
    """Anything that can claim event ids for a source position (Redis in production)."""

    async def claim(self, claims: Sequence[tuple[str, str]]) -> list[bool]: ...


class RedisClaims:
    """Claims event ids in Redis for ``ttl_s`` seconds (at least the 24 h dedupe window)."""

    def __init__(self, redis: Redis, ttl_s: int, *, retry_s: float = 1.0) -> None:
        self._ttl_s = ttl_s
        self._retry_s = retry_s
        self._script = redis.register_script(CLAIM_SCRIPT)

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
        keys = [KEY_PREFIX + event_id for event_id, _ in claims]
        owners = [position for _, position in claims]
        owned = await self._script(keys=keys, args=[self._ttl_s, *owners])
        return [bool(flag) for flag in owned]
