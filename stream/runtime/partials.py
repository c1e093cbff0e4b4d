"""Partials: the checkpoints a worker shares in Redis so other workers merge its partitions.

The Faust changelog is the truth; Redis only lets every worker publish snapshots of all
partitions, its own folded live and the others' read from their latest checkpoints.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from stream.runtime.rollup import MetricState, Rollup, decode_checkpoint


async def other_partitions(
    redis: Redis,
    redis_key: str,
    rollup: Rollup[Any],
    partitions: int,
    load: Callable[[bytes], MetricState],
) -> list[MetricState]:
    """Latest checkpoints of the partitions other workers own (none when we own them all)."""
    missing = [p for p in range(partitions) if not rollup.owns(p)]
    if not missing or not rollup.slots:
        return []
    try:
        blobs = await redis.hmget(redis_key, [str(p) for p in missing])
    except (RedisError, OSError):
        return []
    return [decode_checkpoint(blob, load)[2] for blob in blobs if isinstance(blob, bytes)]


async def share_again(redis: Redis, redis_key: str, held: Mapping[int, bytes]) -> None:
    """Put back in Redis the checkpoints of ``held`` (slot -> checkpoint) that Redis lost.

    Only changed partitions are written at a checkpoint, so after a Redis flush a quiet
    partition would be missing from every other worker's numbers until its next event.
    """
    slots = list(held)
    if not slots:
        return
    with contextlib.suppress(RedisError, OSError):  # the next call tries again
        async with redis.pipeline(transaction=False) as pipe:
            for slot in slots:
                pipe.hexists(redis_key, str(slot))
            present = await pipe.execute()
        lost = [slot for slot, there in zip(slots, present, strict=True) if not there]
        if lost:
            await redis.hset(redis_key, mapping={str(s): bytes(held[s]) for s in lost})
