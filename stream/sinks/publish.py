"""Hand metric snapshots to the live feed through Redis.

Contract with ``live_feed``: the latest snapshot of a channel is stored under
``Keys.snapshot(channel)`` and each new one is published on ``Keys.live(channel)``, both
as ``{"channel", "data", "ts"}`` JSON. Redis is a cache here, never the source of truth:
if it is down the snapshot is skipped (and rebuilt from Kafka-backed state next time).

A channel several processes write (``alerts``: the learner and the backup scheduler) is
published in keyed parts: each source stores its part under ``Keys.snapshot_parts`` and
every publish merges all parts, so no writer erases another's and none must repeat itself.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from stream.models.keys import Keys

log = logging.getLogger(__name__)

# A part and the parts' version change together, and the merge read is of that version; a
# merge is shown only while its version is the newest, so a slower writer's older merge
# never replaces a newer one. The version lives in the hash under "", which no source is
# (and, a number, is no part: ``decode_parts`` leaves it out).
PUT_PART = """
if ARGV[2] == '' then redis.call('HDEL', KEYS[1], ARGV[1])
else redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
local version = redis.call('HINCRBY', KEYS[1], '', 1)
return {version, unpack(redis.call('HGETALL', KEYS[1]))}
"""
SHOW_PARTS = """
if redis.call('HGET', KEYS[1], '') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('PUBLISH', KEYS[3], ARGV[2])
return 1
"""


def merge_parts(parts: dict[str, Any]) -> dict[str, Any]:
    """One snapshot from the sources' parts: lists joined in source order, else the first."""
    merged: dict[str, Any] = {}
    for source in sorted(parts):
        for name, value in parts[source].items():
            if isinstance(value, list) and isinstance(merged.get(name, []), list):
                merged[name] = [*merged.get(name, []), *value]
            else:
                merged.setdefault(name, value)
    return merged


def decode_parts(stored: dict[Any, Any]) -> dict[str, Any]:
    """The parts in a ``snapshot_parts`` hash; a part that is not a JSON object is left out."""
    parts: dict[str, Any] = {}
    for source, raw in stored.items():
        try:
            part = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        if isinstance(part, dict):
            parts[source.decode("utf-8", "replace") if isinstance(source, bytes) else source] = part
    return parts


def envelope(channel: str, data: Any, now_ms: int) -> bytes:
    """The JSON every snapshot travels in."""
    return orjson.dumps({"channel": channel, "data": data, "ts": now_ms})


class SnapshotPublisher:
    """Stores and publishes snapshots; counts failures instead of raising them."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._redis = redis
        self.keys = keys
        self.failures = 0
        self._put_part = redis.register_script(PUT_PART)
        self._show_parts = redis.register_script(SHOW_PARTS)

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

    async def publish_part(
        self, channel: str, source: str, data: dict[str, Any] | None, now_ms: int
    ) -> bool:
        """Store (None: remove) ``source``'s part of ``channel``; publish every part merged."""
        parts_key, part = (
            self.keys.snapshot_parts(channel),
            orjson.dumps(data) if data is not None else b"",
        )
        try:
            version, *flat = await self._put_part(keys=[parts_key], args=[source, part])
            parts = decode_parts(dict(zip(flat[::2], flat[1::2], strict=True)))
            body = envelope(channel, merge_parts(parts), now_ms)
            keys = [parts_key, self.keys.snapshot(channel), self.keys.live(channel)]
            await self._show_parts(keys=keys, args=[version, body])
        except (RedisError, OSError) as exc:
            self.failures += 1
            log.warning("snapshot for %s not published: %s", channel, type(exc).__name__)
            return False
        return True

    async def part(self, channel: str, source: str) -> dict[str, Any] | None:
        """``source``'s stored part of ``channel`` (None when absent or unreadable)."""
        try:
            raw = await self._redis.hget(self.keys.snapshot_parts(channel), source)
        except (RedisError, OSError):
            return None
        return decode_parts({source: raw}).get(source) if raw is not None else None
