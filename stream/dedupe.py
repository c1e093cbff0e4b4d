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
# ARGV[1]: the key prefix, ARGV[2]: ttl in seconds, ARGV[3]: event ids, ARGV[4]: their
# owners (both space-separated: ids are [A-Za-z0-9_-], positions "partition:offset").
# Answers one character per id, "1" where that owner holds the key (claimed now, or by the
# same position before), else "0". Four arguments and one string back, instead of two
# arguments and one reply element per event: redis-py encodes and parses each of those in
# Python, which had cost more than the claims. The script builds its keys, so it needs one
# Redis node (this product's); Redis Cluster would want them declared as KEYS.
CLAIM_SCRIPT = """
local owners = {}
for owner in string.gmatch(ARGV[4], '%S+') do owners[#owners + 1] = owner end
local owned, i = {}, 0
for id in string.gmatch(ARGV[3], '%S+') do
  i = i + 1
  local previous = redis.call('SET', ARGV[1] .. id, owners[i], 'NX', 'GET', 'EX', ARGV[2])
  owned[i] = (previous == false or previous == owners[i]) and '1' or '0'
end
return table.concat(owned)
"""
OWNED = ord("1")


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
        ids = " ".join(event_id for event_id, _ in claims)
        owners = " ".join(position for _, position in claims)
        owned = await self._script(keys=[], args=[KEY_PREFIX, self._ttl_s, ids, owners])
        if len(owned) != len(claims):  # a broken reply must never pass as "not a duplicate"
            raise RedisError(f"claim script answered {len(owned)} flags for {len(claims)} ids")
        return [flag == OWNED for flag in owned]
