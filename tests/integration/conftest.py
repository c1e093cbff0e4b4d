"""The real stack for integration tests: Kafka and Redis, worker and collector processes.

Kafka is the machine's broker on the default address (started here if nothing answers
there, reused otherwise); each test gets its own topic prefix and consumer group, so tests
never see each other's data. Redis is the session's private server.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import redis
from aiokafka import AIOKafkaConsumer, TopicPartition

import infra.kafka
from infra.process import Child, free_port
from stream.settings import Settings
from stream.topics import drop_topics, ensure_topics

pytestmark = pytest.mark.integration


class Proc:
    """A product process (``python -m dojo_pulse.cli ...``) with its own settings and log."""

    def __init__(self, args: list[str], settings: Settings, log: Path) -> None:
        self.args = args
        self.settings = settings
        self.log = log
        self.child: Child | None = None

    @property
    def proc(self) -> subprocess.Popen[bytes] | None:
        return None if self.child is None else self.child.proc

    def start(self) -> Proc:
        argv = [sys.executable, "-m", "dojo_pulse.cli", *self.args]
        self.child = Child.start(self.args[0], argv, self.log, env=self.settings.to_env())
        return self

    def alive(self) -> bool:
        return self.child is not None and self.child.alive()

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        if self.child is not None:
            self.child.stop(sig, grace_s=30)

    def output(self) -> str:
        return "" if self.child is None else self.child.output()


def wait_for(check: Callable[[], bool], deadline_s: float, what: str) -> None:
    """Poll ``check`` until true; fail with ``what`` when the deadline passes."""
    end = time.monotonic() + deadline_s
    while not check():
        if time.monotonic() > end:
            pytest.fail(f"timed out after {deadline_s:.0f}s waiting for {what}")
        time.sleep(0.1)


def healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """The machine's Kafka broker, started (and left running) if nothing answers."""
    base = Settings()
    try:
        infra.kafka.up(base, echo=lambda _line: None)
    except Exception as exc:
        pytest.fail(f"the Kafka broker could not be started: {exc}")
    return base.kafka


@dataclass(frozen=True)
class PrivateKafka:
    """A broker of the test's own on spare ports and its own data dir: it may be stopped."""

    settings: Settings

    @property
    def bootstrap(self) -> str:
        return self.settings.kafka

    def start(self) -> None:
        """Start (or start again, same ports and data dir) and wait until it answers."""
        infra.kafka.up(self.settings, echo=lambda _line: None)

    def stop(self) -> None:
        """Stop gracefully (SIGTERM, then wait), as `dojo-pulse infra down` does."""
        infra.kafka.down(self.settings, echo=lambda _line: None)


@pytest.fixture
def private_kafka(tmp_path: Path) -> Iterator[PrivateKafka]:
    """A running private broker (the cached jars of the default cache dir), stopped at the end."""
    broker = PrivateKafka(
        replace(
            Settings(),
            kafka=f"127.0.0.1:{free_port()}",
            kafka_controller_port=free_port(),
            data_dir=tmp_path / "private-kafka",
        )
    )
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def spent_deployments(kafka_bootstrap: str) -> Iterator[list[Settings]]:
    """Tests' deployments whose topics are deleted when the session ends (no process left)."""
    spent: list[Settings] = []
    yield spent
    for settings in spent:
        asyncio.run(drop_topics(settings))


@pytest.fixture
def stack_settings(
    kafka_bootstrap: str, redis_url: str, tmp_path: Path, spent_deployments: list[Settings]
) -> Settings:
    """Settings for one test: private topics, group, Redis and ports; topics created.

    The test's topics (its own and Faust's changelogs) are deleted when the session ends:
    the shared broker loads every partition at start, and forgotten ones slow every start.
    """
    run = uuid.uuid4().hex[:10]
    settings = replace(
        Settings(),
        kafka=kafka_bootstrap,
        redis_url=redis_url,
        topic_prefix=f"t{run}",
        app_id=f"dojo-test-{run}",
        partitions=2,
        data_dir=tmp_path / "data",
        collector_port=free_port(),
        live_port=free_port(),
        worker_web_port=free_port(),
        rate_limit_per_minute=100_000,
    )
    asyncio.run(ensure_topics(settings))
    # Redis is the session's; snapshots and counters of an earlier test must not leak in.
    redis.Redis.from_url(redis_url).flushdb()
    spent_deployments.append(settings)
    return settings


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., Proc]]:
    """Start product processes; all are stopped when the test ends."""
    procs: list[Proc] = []

    def launch(args: list[str], settings: Settings) -> Proc:
        if args[0] == "worker":  # each worker serves its own /metrics: two cannot share a port
            settings = replace(settings, worker_web_port=free_port())
        proc = Proc(args, settings, tmp_path / f"{args[0]}-{len(procs)}.log").start()
        procs.append(proc)
        return proc

    yield launch
    for proc in reversed(procs):
        proc.stop()


@pytest.fixture
def collector_url(stack_settings: Settings, start: Callable[..., Proc]) -> str:
    """A running collector for the test's settings."""
    proc = start(["collector"], stack_settings)
    url = f"http://{stack_settings.collector_host}:{stack_settings.collector_port}"
    wait_for(lambda: healthy(f"{url}/healthz") or not proc.alive(), 30, "the collector")
    assert proc.alive(), proc.output()
    return url


async def read_topic(
    settings: Settings,
    topic: str,
    done: Callable[[list[Any]], bool],
    deadline_s: float = 60.0,
    settle_s: float = 1.0,
) -> list[Any]:
    """Read ``topic`` from the start until ``done(values)``; then a little longer, to catch extras."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka, enable_auto_commit=False)
    await consumer.start()
    try:
        # Product topics are created with the settings' partition count (see ensure_topics).
        tps = [TopicPartition(topic, p) for p in range(settings.partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        values: list[Any] = []
        end = time.monotonic() + deadline_s
        settled_at: float | None = None
        while time.monotonic() < end:
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                values += [orjson.loads(r.value) for r in records]
            if settled_at is None and done(values):
                settled_at = time.monotonic() + settle_s
            if settled_at is not None and time.monotonic() >= settled_at:
                return values
        return values
    finally:
        await consumer.stop()


async def group_lag(settings: Settings, topic: str) -> int:
    """Messages of ``topic`` not yet committed by the worker group that reads it."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka, enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(settings.partitions)]
        group = settings.validate_group if topic == settings.topic_raw else settings.app_id
        committed = await admin.list_consumer_group_offsets(group, partitions=tps)
        ends = await consumer.end_offsets(tps)
        return sum(ends[tp] - max(committed[tp].offset if tp in committed else 0, 0) for tp in tps)
    finally:
        await consumer.stop()
        await admin.close()
