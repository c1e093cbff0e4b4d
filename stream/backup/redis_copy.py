"""The cumulative counters in Redis into a backup and back; nothing else of Redis.

Everything else in Redis is rebuilt by the stack (snapshots, partial checkpoints, dedupe
claims from ``dojo.events``), is worthless later (rate limits), or must never be restored:
the daily visitor salts and admin sessions (``manifest.EXCLUDED``). The counters are the
validate stage's totals, which no topic holds. Each key travels as Redis ``DUMP`` bytes.
"""

from __future__ import annotations

import struct

import redis

from stream.backup.container import ContainerReader, ContainerWriter
from stream.models.keys import Keys
from stream.settings import AGENTS, Settings

LENGTH = struct.Struct(">I")


def counter_keys(settings: Settings) -> dict[str, str]:
    """The only Redis keys a backup holds, by role (a restore maps them to its namespace)."""
    keys = Keys.of(settings)
    return {"pipeline": keys.pipeline, "events_processed": keys.events_processed,
            "folded": keys.folded}  # fmt: skip


def _client(settings: Settings) -> redis.Redis:
    return redis.Redis.from_url(settings.redis_url, socket_timeout=10)


def holding(settings: Settings) -> list[str]:
    """The counters Redis holds now (what a restore would overwrite)."""
    client = _client(settings)
    try:
        names = counter_keys(settings).values()
        return [f"redis key {name}" for name in names if client.exists(name)]
    finally:
        client.close()


def dump(settings: Settings, out: ContainerWriter) -> int:
    """Write each counter key present as (role, dump); the number written."""
    client = _client(settings)
    written = 0
    try:
        for role, name in counter_keys(settings).items():
            blob = client.dump(name)
            if blob is None:
                continue
            assert isinstance(blob, bytes)
            raw = role.encode()
            out.write(LENGTH.pack(len(raw)) + raw + LENGTH.pack(len(blob)) + blob)
            written += 1
    finally:
        client.close()
    return written


def entries(source: ContainerReader) -> list[tuple[str, bytes]]:
    """The (role, dump) pairs of a counters file; ``ValueError`` if it is cut short."""
    pairs = []
    while head := source.read(LENGTH.size):
        name = source.read(LENGTH.unpack(head)[0])
        size_raw = source.read(LENGTH.size)
        if len(size_raw) != LENGTH.size:
            raise ValueError("the counters file ends mid-entry")
        blob = source.read(LENGTH.unpack(size_raw)[0])
        pairs.append((name.decode(), blob))
    return pairs


def load(settings: Settings, pairs: list[tuple[str, bytes]]) -> None:
    """Put the counters back (replacing what is there); drop partial checkpoints.

    The agents' partial checkpoints in Redis describe the state being replaced; a worker
    shares its restored ones again at start, and a stale one must not be merged meanwhile.
    """
    names = counter_keys(settings)
    keys = Keys.of(settings)
    client = _client(settings)
    try:
        client.delete(*(keys.checkpoints(agent) for agent in AGENTS))
        for role, blob in pairs:
            if role in names:  # a role this release does not know is left out
                client.restore(names[role], 0, blob, replace=True)
    finally:
        client.close()
