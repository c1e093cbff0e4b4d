"""The latest checkpoint of one held state, in a compacted one-partition Kafka topic.

A held state (``stream.runtime.holder``) moves between workers, so its checkpoint cannot
live in a Faust table bound to one worker's partitions. Each checkpoint is one message under
one key; compaction keeps the newest, which is the last message of the partition.
"""

from __future__ import annotations

import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from stream.topics import MAX_CHECKPOINT_BYTES

READ_WITHIN_S = 30.0


class CheckpointLog:
    """Write checkpoints of state ``key`` to ``topic``; read the newest back."""

    def __init__(self, kafka: str, topic: str, key: bytes, producer: AIOKafkaProducer) -> None:
        self.kafka = kafka
        self.tp = TopicPartition(topic, 0)
        self.key = key
        self.producer = producer

    async def write(self, blob: bytes) -> None:
        """Send one checkpoint and wait until Kafka holds it."""
        await self.producer.send_and_wait(self.tp.topic, blob, key=self.key, partition=0)

    async def last(self) -> bytes | None:
        """The newest checkpoint, or None when none was ever written."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.kafka,
            enable_auto_commit=False,
            max_partition_fetch_bytes=MAX_CHECKPOINT_BYTES,
        )
        await consumer.start()
        try:
            consumer.assign([self.tp])
            start = (await consumer.beginning_offsets([self.tp]))[self.tp]
            end = (await consumer.end_offsets([self.tp]))[self.tp]
            if end <= start:
                return None
            # Compaction never removes a partition's last message, so it is the newest.
            consumer.seek(self.tp, end - 1)
            newest: bytes | None = None
            deadline = time.monotonic() + READ_WITHIN_S
            while await consumer.position(self.tp) < end:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{self.tp.topic}: the last checkpoint did not arrive")
                for records in (await consumer.getmany(self.tp, timeout_ms=500)).values():
                    newest = next((r.value for r in reversed(records) if r.key == self.key), newest)
            return newest
        finally:
            await consumer.stop()
