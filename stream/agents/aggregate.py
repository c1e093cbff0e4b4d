"""aggregate: dojo.events -> per-partition metric state -> live snapshots and a metric topic.

One factory serves every mergeable metric (traffic, forms, vitals, ...): the agent folds
batches into a ``Rollup``, checkpoints it about once a second into a Faust table's
changelog (and Redis, for other workers' merges), and acknowledges messages only after
their checkpoint, so a restart neither loses nor double-counts a message.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import faust
import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from stream.ingest import is_clean_batch
from stream.publish import SnapshotPublisher
from stream.rollup import MetricState, Rollup, decode_checkpoint

TAKE_MAX = 2000  # messages per take; a take is one pass over the batch and one state update
TAKE_WITHIN_S = 0.05  # a lone message waits at most this long before it is counted
TOPIC_EVERY_S = 5.0  # how often the snapshot also goes to the metric topic
REFRESH_EVERY_S = 5.0  # republish unchanged state too: "last 5 minutes" moves with the clock
CHECKPOINTS = "dojo:checkpoints:{}"


def now_ms() -> int:
    return int(time.time() * 1000)


def decode_batch(value: bytes | None) -> dict[str, Any] | None:
    """The batch in a ``dojo.events`` message, or None if it does not have the clean shape."""
    try:
        batch = orjson.loads(value or b"")
    except orjson.JSONDecodeError:
        return None
    return batch if is_clean_batch(batch) else None


@dataclass(frozen=True)
class Metric:
    """One metric: its agent name, live channel, and how to make and load its state."""

    agent: str
    channel: str
    new: Callable[[], MetricState]
    load: Callable[[bytes], MetricState]


def aggregate(
    app: faust.App,
    metric: Metric,
    source: faust.TopicT,
    out: faust.TopicT,
    publisher: SnapshotPublisher,
    redis: Redis,
    *,
    partitions: int,
    max_hz: float,
) -> Rollup[Any]:
    """Register the agent, its checkpoint table and its snapshot timer; returns the rollup."""
    table = app.Table(
        f"{metric.agent}-checkpoints", key_type=bytes, value_type=bytes, partitions=partitions
    )
    # Checkpoints are opaque bytes; Faust would otherwise pick JSON for a non-record type.
    table.key_serializer = table.value_serializer = "raw"
    rollup: Rollup[Any] = Rollup(metric.new, metric.load)
    redis_key = CHECKPOINTS.format(metric.agent)

    rejected = [0]  # unreadable messages on the clean topic (only a rogue producer makes them)

    def key(partition: int) -> bytes:
        return b"p%d" % partition

    async def checkpoint(stream: faust.Stream[bytes], pending: list[faust.EventT[bytes]]) -> None:
        saved = rollup.checkpoints(now_ms())
        for partition, blob in saved:
            table.data[key(partition)] = blob
            table.send_changelog(partition, key(partition), blob, "raw", "raw")
        if saved:
            # Only other workers' snapshots read these; the changelog is the truth.
            with contextlib.suppress(RedisError, OSError):
                await redis.hset(redis_key, mapping={str(p): blob for p, blob in saved})
        # Acknowledge only now: Kafka commits offsets after flushing the changelog above.
        for event in pending:
            await stream.ack(event)
        pending.clear()

    async def fold(stream: faust.StreamT[bytes]) -> None:
        concrete = cast("faust.Stream[bytes]", stream)
        pending: list[faust.EventT[bytes]] = []
        async for values in concrete.noack_take(TAKE_MAX, within=TAKE_WITHIN_S):
            # noack_take hands over the events themselves, so they can be acked later.
            taken = cast("list[faust.EventT[bytes]]", values)
            at = now_ms()
            for event in taken:
                msg = event.message
                if not rollup.owns(msg.partition):
                    rollup.restore(msg.partition, table.data.get(key(msg.partition)))
                batch = decode_batch(msg.value)
                if batch is None:
                    rejected[0] += 1
                    continue
                rollup.apply(msg.partition, msg.offset, batch, at)
            pending += taken
            if rollup.due():
                await checkpoint(concrete, pending)

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def forget(sender: Any, revoked: set[Any], **_: Any) -> None:
        rollup.revoke(tp.partition for tp in revoked if tp.topic == source.get_topic_name())

    last_sent = {"live": 0.0, "topic": 0.0}

    @app.timer(1.0 / max_hz, name=f"{metric.agent}-snapshot")  # type: ignore[untyped-decorator]
    async def publish() -> None:
        if not rollup.changed and time.monotonic() - last_sent["live"] < REFRESH_EVERY_S:
            return
        rollup.changed = False
        last_sent["live"] = time.monotonic()
        others = await _other_partitions(redis, redis_key, rollup, partitions, metric.load)
        merged = rollup.merged(others)
        if merged is None:
            return
        at = now_ms()
        data = merged.snapshot(at)
        await publisher.publish(metric.channel, data, at)
        if time.monotonic() - last_sent["topic"] >= TOPIC_EVERY_S:
            last_sent["topic"] = time.monotonic()
            record = {"ts": at, **data}
            windows = getattr(merged, "windows", None)  # per-minute rows, where the metric has them
            if windows is not None:
                record["windows"] = windows(at)
            await out.send(key=b"snapshot", value=orjson.dumps(record))

    app.agent(source, name=metric.agent)(fold)
    return rollup


async def _other_partitions(
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
    return [decode_checkpoint(blob, load)[1] for blob in blobs if isinstance(blob, bytes)]
