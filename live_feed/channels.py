"""Channel names and reading what the metric agents leave under ``Keys.snapshot``/``Keys.live``."""

from __future__ import annotations

import re
import time
from typing import Any

import orjson
from redis.asyncio import Redis

from stream.models.keys import Keys

CHANNEL_RE = re.compile(r"[a-z_]{1,32}")

Message = dict[str, Any]


def is_channel(name: object) -> bool:
    """True if ``name`` is a well-formed channel name."""
    return isinstance(name, str) and CHANNEL_RE.fullmatch(name) is not None


def now_ms() -> int:
    """Wall-clock time in epoch milliseconds, as carried in ``ts`` fields."""
    return time.time_ns() // 1_000_000


def parse_published(
    keys: Keys, pubsub_channel: str | bytes, payload: bytes | str
) -> Message | None:
    """An ``update`` message from one pub/sub delivery, or None if it breaks the contract."""
    if isinstance(pubsub_channel, bytes):
        pubsub_channel = pubsub_channel.decode("utf-8", "replace")
    channel = keys.channel_of(pubsub_channel)
    if channel is None or not is_channel(channel):
        return None
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(body, dict) or body.get("channel", channel) != channel:
        return None
    ts = body.get("ts")
    return {
        "channel": channel,
        "type": "update",
        "data": body.get("data"),
        "ts": ts if isinstance(ts, int) else now_ms(),
    }


async def read_snapshot_raw(redis: Redis, keys: Keys, channel: str) -> bytes | None:
    """The stored snapshot JSON of ``channel`` exactly as the agents wrote it."""
    raw = await redis.get(keys.snapshot(channel))
    return raw.encode("utf-8") if isinstance(raw, str) else raw


async def read_snapshot(redis: Redis, keys: Keys, channel: str) -> Message:
    """A ``snapshot`` message for ``channel``; ``data`` is None if nothing is stored yet."""
    raw = await read_snapshot_raw(redis, keys, channel)
    data: Any = None
    ts = now_ms()
    if raw is not None:
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        if isinstance(body, dict):
            data = body.get("data")
            if isinstance(body.get("ts"), int):
                ts = body["ts"]
    return {"channel": channel, "type": "snapshot", "data": data, "ts": ts}
