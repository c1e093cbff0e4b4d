"""The collector's Kafka sink against a real broker, including a broker that comes and goes.

The broker is a private one on spare ports (started through ``infra``), so stopping it
mid-test disturbs nobody else's broker.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from starlette.testclient import TestClient

from collector.app import create_app
from collector.sink import KafkaSink, SinkUnavailable
from infra import kafka
from stream.settings import Settings
from tests.conftest import free_port

pytestmark = pytest.mark.integration

EVENT = {
    "event_id": "evt_00000001",
    "type": "page_view",
    "ts": 1_800_000_000_000,
    "session_id": "sess_abcdef12",
    "url": "/",
    "props": {},
}


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Settings pointing at a private broker, stopped after the module's tests."""
    settings = dataclasses.replace(
        Settings(),
        kafka=f"127.0.0.1:{free_port()}",
        kafka_controller_port=free_port(),
        data_dir=tmp_path_factory.mktemp("collector-kafka") / "data",
    )
    kafka.up(settings, echo=lambda _: None)
    yield settings
    kafka.down(settings, echo=lambda _: None)


async def create_topic(bootstrap: str) -> str:
    name = f"test.collector.{uuid.uuid4().hex[:12]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()
    return name


async def read(bootstrap: str, topic: str, count: int) -> list[tuple[bytes, bytes]]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    got: list[tuple[bytes, bytes]] = []
    try:
        deadline = time.monotonic() + 30
        while len(got) < count and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                got.extend((r.key, r.value) for r in records)
    finally:
        await consumer.stop()
    return got


def eventually(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"{what} within {seconds} s"
        time.sleep(0.1)


async def test_acknowledged_messages_are_on_the_topic(broker: Settings) -> None:
    topic = await create_topic(broker.kafka)
    sink = KafkaSink(broker, topic=topic)
    await sink.start()
    deadline = time.monotonic() + 30
    while not sink.ready:
        assert time.monotonic() < deadline, "the sink did not connect within 30 s"
        await asyncio.sleep(0.05)
    # Larger than aiokafka's default batch size: as big as a full beacon request.
    big = orjson.dumps({"events": ["x" * 1000] * 60})
    try:
        await sink.send(b"sess_abcdef12", b'{"events": []}')
        await sink.send(b"sess_abcdef12", big)
    finally:
        await sink.stop()
    got = await read(broker.kafka, topic, 2)
    assert got == [(b"sess_abcdef12", b'{"events": []}'), (b"sess_abcdef12", big)]


async def test_stopped_sink_refuses(broker: Settings) -> None:
    sink = KafkaSink(broker)
    await sink.start()
    await sink.stop()
    assert not sink.ready
    with pytest.raises(SinkUnavailable):
        await sink.send(b"k", b"v")


def test_collector_rides_out_a_broker_restart(
    broker: Settings, settings: Settings, tmp_path: Path
) -> None:
    topic = asyncio.run(create_topic(broker.kafka))
    app_settings = dataclasses.replace(settings, kafka=broker.kafka)
    sink = KafkaSink(app_settings, topic=topic, request_timeout_s=2.0)

    def post() -> int:
        return client.post("/collect", json={"events": [EVENT]}).status_code

    with TestClient(create_app(app_settings, sink=sink)) as client:
        eventually(lambda: post() == 202, 30, "the collector did not accept")
        kafka.down(broker, echo=lambda _: None)
        try:
            eventually(lambda: post() == 503, 30, "the collector did not refuse")
            assert client.get("/healthz").status_code == 503
        finally:
            kafka.up(broker, echo=lambda _: None)
        eventually(lambda: post() == 202, 60, "the collector did not accept again")
        assert client.get("/healthz").status_code == 200
    values = [orjson.loads(value) for _, value in asyncio.run(read(broker.kafka, topic, 2))]
    assert len(values) >= 2
    assert all(v["events"] == [EVENT] for v in values)
