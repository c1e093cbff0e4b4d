"""``backup drill``: restore a backup onto a scratch broker and store, compare with its manifest.

The scratch stack runs on other ports and in a directory of its own, and is stopped and
deleted afterwards, pass or fail: a drill never touches the stack it is a backup of.
Compared: every partition's restored record count and offset range, each group's
offsets, the store's tables and row counts. Redis is not part of a drill (the counters
are a few keys; the salts are never in a backup).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

import infra.kafka
from infra import postgres
from infra.process import free_port
from stream.backup import refill, store_copy
from stream.backup.manifest import Manifest, load
from stream.backup.meter import Meter, silent
from stream.backup.restore import restore
from stream.settings import Secret, Settings


@dataclass
class DrillReport:
    backup_id: str
    seconds: float = 0.0
    records: int = 0
    mismatches: list[str] = field(default_factory=list)

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
