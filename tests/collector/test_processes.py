"""DOJO_COLLECTOR_PROCESSES: several processes on one port, counted together, failing together.

Real Kafka (the machine's broker, a topic prefix of the test's own) and the session's Redis.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from infra.process import Child
from stream.settings import Settings, SettingsError
from stream.topics import drop_topics, ensure_topics
from tests.collector.conftest import event
from tests.conftest import free_port
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.integration
PROCESSES = 2
ORIGIN = "http://localhost:8000"


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def serving_children(pid: int) -> list[int]:
    """The serving processes under ``pid`` (not multiprocessing's resource tracker)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for kid in (task / "children").read_text().split():
            cmdline = Path(f"/proc/{kid}/cmdline").read_bytes()
            found += [int(kid)] if b"spawn_main" in cmdline else []
    return found


@pytest.fixture
def many(settings: Settings, tmp_path: Path) -> Iterator[tuple[Settings, Child]]:
    """A collector of PROCESSES processes on a free port, writing to a topic of its own."""
    s = dataclasses.replace(
        settings, topic_prefix=f"procs-{uuid.uuid4().hex[:8]}", collector_host="127.0.0.1",
        collector_port=free_port(), collector_processes=PROCESSES, site_origins=(ORIGIN,),
    )  # fmt: skip
    asyncio.run(ensure_topics(s))
    argv = [sys.executable, "-m", "dojo_pulse.cli", "collector"]
    child = Child.start("collector", argv, tmp_path / "collector.log", env=s.to_env())
    url = f"http://127.0.0.1:{s.collector_port}"
    wait_for(lambda: healthy(url) or not child.alive(), 60, "the collector")
    assert child.alive(), child.output()
    wait_for(lambda: len(serving_children(child.pid)) >= PROCESSES, 30, "its processes")
    yield s, child
    child.stop(grace_s=30)
    asyncio.run(drop_topics(s))


async def messages_on(settings: Settings) -> int:
    """Messages written to the raw topic (its end offsets)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka, enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        described = await admin.describe_topics([settings.topic_raw])
        parts = [TopicPartition(settings.topic_raw, p["partition"])
                 for p in described[0]["partitions"]]  # fmt: skip
        ends = await consumer.end_offsets(parts)
    finally:
        await consumer.stop()
        await admin.close()
    assert parts
    return sum(ends.values())


def test_processes_share_the_port_count_together_and_lose_nothing(
    many: tuple[Settings, Child],
) -> None:
    settings, child = many
    url = f"http://127.0.0.1:{settings.collector_port}"
    statuses: list[int] = []
    for c in range(20):  # a connection each: the kernel spreads connections, not requests
        with httpx.Client(base_url=url, headers={"origin": ORIGIN}) as client:
            statuses += [
                client.post("/collect", json={"events": [event(10 * c + i)]}).status_code
                for i in range(10)
            ]
        assert httpx.post(f"{url}/collect", json=event(0), headers={"origin": "https://x.example"}
                          ).status_code == 403  # fmt: skip
    assert statuses == [202] * 200
    metrics = {httpx.get(f"{url}/metrics").text for _ in range(20)}
    # Every process answers the sum: each scrape says the same, whoever answers it.
    assert all("dojo_collector_requests_accepted_total 200.0" in m for m in metrics), metrics
    assert all(
        'dojo_collector_requests_refused_total{reason="origin",route="collect"} 20.0' in m
        for m in metrics
    )
    assert asyncio.run(messages_on(settings)) == 200
    assert len(serving_children(child.pid)) == PROCESSES
    child.proc.send_signal(signal.SIGTERM)
    assert child.proc.wait(30) == 0
    assert "Traceback" not in child.output()


def test_one_process_dying_stops_the_collector(many: tuple[Settings, Child]) -> None:
    _, child = many
    kids = serving_children(child.pid)
    os.kill(kids[0], signal.SIGKILL)
    assert child.proc.wait(40) == 1
    assert all(not Path(f"/proc/{k}").exists() for k in kids)


@pytest.mark.parametrize("value", ["0", "65", "-1", "two", "1.5", "", "2\x00", "1e3"])
def test_bad_process_counts_are_refused(value: str) -> None:
    with pytest.raises(SettingsError, match="DOJO_COLLECTOR_PROCESSES"):
        Settings.from_env({"DOJO_COLLECTOR_PROCESSES": value})
