"""``infra`` against the real thing: a Kafka broker and a Redis started on spare ports."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis as redis_client
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

import infra
from infra import kafka, redis
from stream.models.keys import Keys
from stream.settings import Settings
from tests.conftest import free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def own_settings(tmp_path: Path) -> Iterator[Settings]:
    """Settings on spare ports and a private data dir; the jar cache is the machine's own."""
    settings = dataclasses.replace(
        Settings(),
        kafka=f"127.0.0.1:{free_port()}",
        kafka_controller_port=free_port(),
        redis_url=f"redis://127.0.0.1:{free_port()}/0",
        data_dir=tmp_path / "data",
    )
    yield settings
    # Only ever the servers this test started (pidfiles under its tmp data dir).
    infra.down_all(settings, echo=lambda _: None)


def test_up_status_idempotent_round_trip_down(own_settings: Settings) -> None:
    lines: list[str] = []
    outcomes: list[dict[str, str]] = []

    def bring_up() -> None:
        outcomes.append(infra.up_all(own_settings, echo=lines.append))

    # Two concurrent callers: the lock makes one start each server and the other find it.
    threads = [threading.Thread(target=bring_up) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert len(outcomes) == 2
    for name in ("kafka", "redis"):
        assert sorted(o[name] for o in outcomes) == ["already running", "started"]
    assert any("kafka: ready" in line for line in lines)

    statuses = {s["name"]: s for s in infra.status_all(own_settings)}
    assert statuses["kafka"]["running"] is True
    assert statuses["kafka"]["ours"] is True
    assert statuses["kafka"]["address"] == own_settings.kafka
    assert statuses["kafka"]["version"] == own_settings.kafka_version
    assert statuses["redis"]["running"] is True
    assert statuses["redis"]["ours"] is True
    assert isinstance(statuses["kafka"]["pid"], int)

    assert infra.up_all(own_settings, echo=lines.append) == {
        "redis": "already running",
        "kafka": "already running",
    }
    server_log = own_settings.data_dir / "kafka" / "logs" / "server.log"
    assert "Kafka Server started" in server_log.read_text()

    topic = f"infra-test-{uuid.uuid4().hex[:8]}"
    assert kafka_round_trip(own_settings, topic) == [b"hello", b"dojo"]

    assert infra.down_all(own_settings, echo=lines.append) == {"kafka": True, "redis": True}
    statuses = {s["name"]: s for s in infra.status_all(own_settings)}
    assert statuses["kafka"]["running"] is False
    assert statuses["redis"]["running"] is False
    assert infra.down_all(own_settings, echo=lines.append) == {"kafka": False, "redis": False}


def test_redis_keeps_its_keys_across_a_restart(own_settings: Settings) -> None:
    assert redis.up(own_settings, echo=lambda _: None) == "started"
    client = redis_client.Redis.from_url(own_settings.redis_url)
    key = Keys.of(own_settings).salt("test")
    try:
        client.set(key, "pepper", ex=3600)
        assert redis.down(own_settings, echo=lambda _: None) is True
        assert redis.up(own_settings, echo=lambda _: None) == "started"
        assert client.get(key) == b"pepper"
    finally:
        client.close()


def test_a_foreign_broker_is_reported_and_left_alone(
    own_settings: Settings, tmp_path: Path
) -> None:
    assert kafka.up(own_settings, echo=lambda _: None) == "started"
    # Same address, another data dir: that broker is someone else's.
    other = dataclasses.replace(own_settings, data_dir=tmp_path / "other")
    assert kafka.up(other, echo=lambda _: None) == "running (not ours)"
    assert kafka.down(other, echo=lambda _: None) is False
    status = kafka.status(other)
    assert status["running"] is True
    assert status["ours"] is False
    assert kafka.status(own_settings)["running"] is True


def kafka_round_trip(settings: Settings, topic: str) -> list[bytes]:
    """Create ``topic``, produce two messages and consume them back."""

    async def go() -> list[bytes]:
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
        finally:
            await admin.close()
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka)
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"hello")
            await producer.send_and_wait(topic, b"dojo")
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=settings.kafka,
            auto_offset_reset="earliest",
            group_id=f"{topic}-group",
        )
        await consumer.start()
        received: list[bytes] = []
        try:
            async with asyncio.timeout(30):
                while len(received) < 2:
                    batch = await consumer.getmany(timeout_ms=1000)
                    for messages in batch.values():
                        received.extend(m.value for m in messages)
        finally:
            await consumer.stop()
        return received

    return asyncio.run(go())
