"""Write a backup back onto a broker: topics as they were, records in order, group offsets.

Offsets. A partition whose log started past 0 (retention deleted its oldest records) is
first padded with as many filler records and those deleted (DeleteRecords), so every
restored record keeps its offset: the metric checkpoints in the changelogs hold offsets of
``dojo.events`` and must still name the same records. Compacted-only topics refuse
DeleteRecords and have holes anyway; there each committed group offset is carried over to
the restored record it pointed at (``OffsetMap``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic, RecordsToDelete
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.structs import OffsetAndMetadata

from stream.backup.frames import Frame
from stream.backup.manifest import Part, Topic
from stream.backup.meter import Tick
from stream.settings import Settings
from stream.topics import MAX_CHECKPOINT_BYTES, owned_by

IN_FLIGHT = 20_000  # sends awaited together: enough to fill batches, bounded memory
FILLER_KEY = b"dojo-pulse backup filler"
CREATE_WAIT_S = 30.0


class OffsetMap:
    """Carries committed offsets of one partition to where the same records were restored."""

    def __init__(self, committed: Iterable[int], base: int) -> None:
        self.pending = sorted(set(committed))
        self.mapped: dict[int, int] = {}
        self.written = base  # the next offset the restored partition will give

    def see(self, original: int) -> None:
        """Note that the record at ``original`` is about to be written."""
        while self.pending and self.pending[0] <= original:
            self.mapped[self.pending.pop(0)] = self.written
        self.written += 1

    def finish(self) -> dict[int, int]:
        """Every committed offset's new value (past the last record: the new end)."""
        for offset in self.pending:
            self.mapped[offset] = self.written
        self.pending = []
        return self.mapped


def padded(topic: Topic) -> bool:
    """Whether the topic accepts DeleteRecords (not compact-only), so offsets can be kept."""
    return "delete" in topic.config.get("cleanup.policy", "delete")


async def holding(settings: Settings) -> list[str]:
    """What the broker holds of the deployment: topics with records (with counts)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka, request_timeout_ms=30_000)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka, enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        names = sorted(n for n in await admin.list_topics() if owned_by(settings, n))
        described: list[dict[str, Any]] = await admin.describe_topics(names) if names else []
        tps = [TopicPartition(t["topic"], p["partition"]) for t in described
               for p in t["partitions"]]  # fmt: skip
        if not tps:
            return []
        starts, ends = await consumer.beginning_offsets(tps), await consumer.end_offsets(tps)
        held: dict[str, int] = {}
        for tp in tps:
            held[tp.topic] = held.get(tp.topic, 0) + ends[tp] - starts[tp]
        return [f"topic {name} ({n} records)" for name, n in sorted(held.items()) if n] + [
            f"topic {name} (empty)" for name, n in sorted(held.items()) if not n
        ]
    finally:
        await consumer.stop()
        await admin.close()


async def create_topics(settings: Settings, topics: list[Topic]) -> None:
    """Create every topic with its partition count and configs (none may exist)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka, request_timeout_ms=60_000)
    await admin.start()
    try:
        brokers = len((await admin.describe_cluster())["brokers"]) or 1
        new = [NewTopic(t.name, t.partitions, min(t.replication, brokers),
                        topic_configs=t.config) for t in topics]  # fmt: skip
        deadline = time.monotonic() + CREATE_WAIT_S
        while new:
            # A topic just deleted (restore --force) may linger a moment on the broker.
            present = set(await admin.list_topics())
            batch = [t for t in new if t.name not in present][:50]
            try:
                if batch:
                    await admin.create_topics(batch)
            except TopicAlreadyExistsError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)
            new = [t for t in new if t.name not in set(await admin.list_topics())]
    finally:
        await admin.close()


def producer(settings: Settings) -> AIOKafkaProducer:
    """A producer that keeps each partition's order and takes a checkpoint-sized record."""
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka,
        acks="all",
        linger_ms=20,
        max_batch_size=1 << 20,
        max_request_size=MAX_CHECKPOINT_BYTES + (1 << 20),
        request_timeout_ms=60_000,
    )


async def pad(out: AIOKafkaProducer, settings: Settings, topic: Topic, part: Part) -> int:
    """Advance an empty restored partition's log start to the original's; the new base."""
    if part.start <= 0 or not padded(topic):
        return 0
    waiting = []
    for _ in range(part.start):
        waiting.append(await out.send(topic.name, b"", key=FILLER_KEY, partition=part.partition))
        if len(waiting) >= IN_FLIGHT:
            await asyncio.gather(*waiting)
            waiting = []
    await asyncio.gather(*waiting)
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka, request_timeout_ms=60_000)
    await admin.start()
    try:
        tp = TopicPartition(topic.name, part.partition)
        await admin.delete_records({tp: RecordsToDelete(part.start)})
    finally:
        await admin.close()
    return part.start


async def write(
    out: AIOKafkaProducer, topic: str, partition: int, frames: Iterable[list[Frame]],
    offsets: OffsetMap, tick: Tick,
) -> int:  # fmt: skip
    """Send every frame to ``topic``/``partition`` in order; the number sent."""
    sent = 0
    waiting: list[asyncio.Future[Any]] = []
    for batch in frames:
        for frame in batch:
            offsets.see(frame.offset)
            waiting.append(
                await out.send(
                    topic,
                    frame.value,
                    key=frame.key,
                    partition=partition,
                    timestamp_ms=frame.timestamp,
                    headers=list(frame.headers),
                )
            )
        sent += len(batch)
        tick(len(batch))
        if len(waiting) >= IN_FLIGHT:
            await asyncio.gather(*waiting)
            waiting = []
    await asyncio.gather(*waiting)
    return sent


async def commit_groups(settings: Settings, groups: dict[str, dict[TopicPartition, int]]) -> None:
    """Set each group's committed offsets (the groups must have no live members)."""
    for group, offsets in sorted(groups.items()):
        if not offsets:
            continue
        consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka, group_id=group, enable_auto_commit=False
        )
        await consumer.start()
        try:
            consumer.assign(list(offsets))
            await consumer.commit({tp: OffsetAndMetadata(n, "") for tp, n in offsets.items()})
        finally:
            await consumer.stop()
