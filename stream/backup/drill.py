"""``backup drill``: restore a backup onto a scratch broker and store, compare with its manifest.

The scratch stack runs on other ports and in a directory of its own, and is stopped and
deleted afterwards, pass or fail: a drill never touches the stack it is a backup of.
Compared: every partition's restored record count and offset range, each group's
offsets, the store's tables and row counts; then a worker runs on the scratch stack (with a
scratch Redis) until its traffic and forms snapshots show the figures counted from the
backup's events (``figures``), or until a deadline that grows with the records restored.
An empty bundle on each events partition wakes the agents (they load a checkpoint when its
partition's first message arrives); the scratch stack is thrown away, so it costs nothing.
The backup's Redis counters are not restored in a drill (the salts are never in a backup).
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from redis.asyncio import Redis

import infra.kafka
import infra.redis
from infra import postgres
from infra.process import Child, free_port
from stream.backup import figures, refill, store_copy
from stream.backup.manifest import Manifest, load
from stream.backup.meter import Meter, silent
from stream.backup.restore import restore
from stream.models.keys import Keys
from stream.settings import Secret, Settings

# The worker's start on a loaded machine, then its catching up: bounded, never open-ended.
WORKER_START_S = 120.0
RECORDS_PER_S = 500.0
EMPTY_BUNDLE = b'{"batches":[]}'  # counts nothing, in every agent


@dataclass
class DrillReport:
    backup_id: str
    seconds: float = 0.0
    records: int = 0
    mismatches: list[str] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)  # "pass|FAIL <figure>: restored, backup"

    @property
    def passed(self) -> bool:
        return not self.mismatches


async def drill(
    settings: Settings, directory: Path, key: bytes | None, *, meter: Meter = silent
) -> DrillReport:
    """Restore ``directory`` onto a scratch stack and compare; the scratch stack is removed."""
    began = time.monotonic()
    home = Path(tempfile.mkdtemp(prefix="dojo-drill-"))
    scratch = replace(
        settings, kafka=f"127.0.0.1:{free_port()}", kafka_controller_port=free_port(),
        data_dir=home / "data", database_url=Secret(""),
    )  # fmt: skip
    server: postgres.Postgres | None = None
    try:
        if store_copy.dialect(settings) == "postgresql":
            server = postgres.start(home / "pg", config=postgres.FAST)
            scratch = replace(scratch, database_url=Secret(server.create_database("drill")))
        infra.kafka.up(scratch, echo=lambda _line: None)
        outcome = await restore(scratch, directory, key, redis=False, meter=meter, expire=False)
        manifest = load(directory)
        report = DrillReport(directory.name, records=outcome.records)
        report.mismatches = await compare(scratch, manifest)
        restored = store_copy.tables(scratch)
        if restored != manifest.tables:
            report.mismatches.append(f"store tables {restored}, manifest {manifest.tables}")
        report.figures = await panel_figures(scratch, directory, manifest, key, home)
        report.mismatches += [line for line in report.figures if line.startswith("FAIL")]
        report.seconds = time.monotonic() - began
        return report
    finally:
        infra.kafka.down(scratch, echo=lambda _line: None)
        if server is not None:
            server.stop()
        shutil.rmtree(home, ignore_errors=True)


async def compare(settings: Settings, manifest: Manifest) -> list[str]:
    """How the restored broker differs from the manifest (names as restored)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka, enable_auto_commit=False)
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka)
    await consumer.start()
    await admin.start()
    wrong: list[str] = []
    try:
        tps = {TopicPartition(t.name, p.partition): (t, p) for t in manifest.topics
               for p in t.parts}  # fmt: skip
        starts = await consumer.beginning_offsets(list(tps)) if tps else {}
        ends = await consumer.end_offsets(list(tps)) if tps else {}
        for tp, (topic, part) in tps.items():
            held = ends[tp] - starts[tp]
            if held != part.records:
                wrong.append(f"{tp.topic}/{tp.partition}: {held} records, manifest {part.records}")
            elif refill.padded(topic) and part.records and starts[tp] != part.first:
                wrong.append(f"{tp.topic}/{tp.partition}: starts at {starts[tp]}, not {part.first}")
        for group, topics in sorted(manifest.groups.items()):
            committed = await admin.list_consumer_group_offsets(group)
            expected = sum(len(offsets) for offsets in topics.values())
            if len(committed) < expected:
                wrong.append(f"group {group}: {len(committed)} offsets set, {expected} expected")
    finally:
        await admin.close()
        await consumer.stop()
    return wrong


async def panel_figures(
    scratch: Settings, directory: Path, manifest: Manifest, key: bytes | None, home: Path
) -> list[str]:
    """Run a worker on the restored stack; judge its snapshots against the backup's events."""
    now_ms = int(time.time() * 1000)
    expected = figures.from_backup(directory, manifest, key, scratch.topic_events, now_ms)
    slack = figures.in_flight(manifest, scratch.topic_raw, scratch.validate_group)
    if not any(expected.values()):  # nothing to show today: any worker's figures pass
        return figures.judge(expected, expected, slack)
    scratch = replace(scratch, redis_url=f"redis://127.0.0.1:{free_port()}/0",
                      worker_web_port=free_port())  # fmt: skip
    infra.redis.up(scratch, echo=lambda _line: None)
    await _wake(scratch, manifest)
    worker = Child.start("worker", [sys.executable, "-m", "dojo_pulse.cli", "worker"],
                         home / "worker.log", env=scratch.to_env())  # fmt: skip
    redis, keys = Redis.from_url(scratch.redis_url), Keys.of(scratch)
    deadline = time.monotonic() + WORKER_START_S + manifest.records / RECORDS_PER_S
    try:
        while True:
            shown = figures.shown(await _data(redis, keys, "traffic"),
                                  await _data(redis, keys, "forms"))  # fmt: skip
            lines = figures.judge(expected, shown, slack)
            if all(line.startswith("pass") for line in lines):
                return lines
            if time.monotonic() > deadline:
                return [*lines, f"FAIL no such figures by the deadline; worker: {worker.tail(3)}"]
            if not worker.alive():
                return [*lines, f"FAIL the worker stopped: {worker.tail(3)}"]
            await asyncio.sleep(1.0)  # polling the worker's snapshots, bounded by the deadline
    finally:
        worker.stop(grace_s=30)
        await redis.aclose()
        infra.redis.down(scratch, echo=lambda _line: None)


async def _data(redis: Redis, keys: Keys, channel: str) -> dict[str, Any]:
    raw = await redis.get(keys.snapshot(channel))
    body = orjson.loads(raw) if raw else {}
    data = body.get("data") if isinstance(body, dict) else None
    return data if isinstance(data, dict) else {}


async def _wake(scratch: Settings, manifest: Manifest) -> None:
    """One empty bundle per events partition: an agent loads a partition's checkpoint when
    the partition's first message after its start arrives, and only then shows it."""
    events = next((t for t in manifest.topics if t.name == scratch.topic_events), None)
    out = AIOKafkaProducer(bootstrap_servers=scratch.kafka, acks="all")
    await out.start()
    try:
        for p in range(events.partitions if events else 0):
            await out.send_and_wait(scratch.topic_events, EMPTY_BUNDLE, partition=p)
    finally:
        await out.stop()
