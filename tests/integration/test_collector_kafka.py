"""The Kafka sink against the real broker: acknowledged sends land on the topic."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import orjson
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from collector.sink import KafkaSink, SinkUnavailable
from stream.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
async def topic() -> AsyncIterator[str]:
    """A fresh one-partition topic, deleted afterwards."""
    bootstrap = Settings().kafka
    name = f"test.collector.{uuid.uuid4().hex[:12]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)])
        yield name
        await admin.delete_topics([name])
    finally:
        await admin.close()


async def ready_sink(topic: str) -> KafkaSink:
    sink = KafkaSink(Settings(), topic=topic)
    await sink.start()
    deadline = time.monotonic() + 30
    while not sink.ready:
        assert time.monotonic() < deadline, "the sink did not connect within 30 s"
        await asyncio.sleep(0.05)
    return sink


async def read(topic: str, count: int) -> list[tuple[bytes, bytes]]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=Settings().kafka,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    got: list[tuple[bytes, bytes]] = []
    try:
        deadline = time.monotonic() + 30
        while len(got) < count and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                got.extend((r.key, r.value) for r in records)
    finally:
        await consumer.stop()
    return got


async def test_sent_messages_are_on_the_topic(topic: str) -> None:
    sink = await ready_sink(topic)
    # Larger than aiokafka's default batch size, as big as a full beacon request.
    big = orjson.dumps({"events": ["x" * 1000] * 60})
    try:
        await sink.send(b"sess_abcdef12", b'{"events": []}')
        await sink.send(b"sess_abcdef12", big)
    finally:
        await sink.stop()
    assert await read(topic, 2) == [(b"sess_abcdef12", b'{"events": []}'), (b"sess_abcdef12", big)]


async def test_stopped_sink_refuses() -> None:
    sink = KafkaSink(Settings())
    await sink.start()
    await sink.stop()
    assert not sink.ready
    with pytest.raises(SinkUnavailable):
        await sink.send(b"k", b"v")
