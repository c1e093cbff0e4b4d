"""The backup scheduler: backup, verify, prune on a schedule; drills too; health out.

``dojo-pulse run`` starts it as a child process (``dojo-pulse backup schedule``). Its
``/metrics`` (on ``DOJO_BACKUP_WEB_PORT``) carries the last success time, size, records
and duration; when a backup fails or is overdue (no success for 1.5 intervals) it raises an
alert on the live feed's alerts channel (its own part, ``SOURCE``) and on the alerts topic,
and it publishes its status on the ``backups`` channel. Decisions are pure functions of
times passed in (``clockwork``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server
from redis.asyncio import Redis

from stream.backup.catalog import latest, prune
from stream.backup.clockwork import Clockwork, alert, backup_due, drill_due, overdue, status
from stream.backup.create import backup_key, backups_root, create
from stream.backup.drill import drill
from stream.backup.verify import verify
from stream.models.keys import Keys
from stream.settings import Settings
from stream.sinks.publish import SnapshotPublisher

log = logging.getLogger(__name__)

TICK_S = 15.0
CHANNEL = "backups"
SOURCE = "backup"  # the scheduler's part of the alerts channel

REGISTRY = CollectorRegistry(auto_describe=True)
LAST_SUCCESS = Gauge("dojo_backup_last_success_timestamp_seconds",
                     "When the last backup that verified finished", registry=REGISTRY)  # fmt: skip
LAST_SIZE = Gauge("dojo_backup_last_size_bytes", "Size of the last good backup", registry=REGISTRY)
LAST_RECORDS = Gauge("dojo_backup_last_records", "Records in the last good backup",
                     registry=REGISTRY)  # fmt: skip
LAST_DURATION = Gauge("dojo_backup_last_duration_seconds",
                      "Time to make and verify the last good backup",
                      registry=REGISTRY)  # fmt: skip
OVERDUE = Gauge("dojo_backup_overdue", "1 when no backup verified for 1.5 intervals",
                registry=REGISTRY)  # fmt: skip
FAILURES = Counter("dojo_backup_failures", "Backups, verifications or drills that failed",
                   ["step"], registry=REGISTRY)  # fmt: skip
LAST_DRILL = Gauge("dojo_backup_last_drill_success_timestamp_seconds",
                   "When the last restore drill passed", registry=REGISTRY)  # fmt: skip


async def cycle(settings: Settings, c: Clockwork, now: float) -> None:
    """One backup, its verification and a prune; the outcome lands in ``c`` and the gauges."""
    c.last_attempt = now
    began = time.monotonic()
    try:
        directory, manifest = await create(settings)
        verdict = verify(directory, backup_key(settings))
        if not verdict.ok:
            FAILURES.labels("verify").inc()
            c.failure = f"{manifest.id} does not verify: {verdict.problems[0]}"
            return
    except Exception as exc:  # a backup must never stop the scheduler: report and retry
        FAILURES.labels("create").inc()
        c.failure = f"{type(exc).__name__}: {str(exc)[:200]}"
        log.warning("backup failed: %s", c.failure)
        return
    c.failure, c.last_success, c.verified = "", time.time(), True
    c.last_id, c.last_size, c.last_records = manifest.id, manifest.size, manifest.records
    LAST_SUCCESS.set(c.last_success)
    LAST_SIZE.set(manifest.size)
    LAST_RECORDS.set(manifest.records)
    LAST_DURATION.set(time.monotonic() - began)
    daily, weekly, monthly = (int(n) for n in settings.backup_keep)
    prune(backups_root(settings), daily, weekly, monthly)


async def run_scheduler(settings: Settings, *, ticks: int | None = None) -> None:
    """Run until cancelled (or for ``ticks`` ticks, in tests)."""
    try:
        start_http_server(settings.backup_web_port, settings.worker_web_host, registry=REGISTRY)
    except OSError as exc:  # backups matter more than their gauges: go on without them
        log.warning("backup /metrics not served on port %s: %s (set DOJO_BACKUP_WEB_PORT)",
                    settings.backup_web_port, exc.strerror or exc)  # fmt: skip
    c = Clockwork(started=time.time())
    newest = latest(backups_root(settings))
    if newest is not None and newest.manifest is not None:
        c.last_success = newest.manifest.finished_ms / 1000
        c.last_id, c.last_size = newest.manifest.id, newest.manifest.size
        c.last_records = newest.manifest.records
        LAST_SUCCESS.set(c.last_success)
    redis = Redis.from_url(settings.redis_url)
    publisher = SnapshotPublisher(redis, Keys.of(settings))
    every, drill_every = settings.backup_every_hours, settings.backup_drill_every_hours
    try:
        while ticks is None or ticks > 0:
            now = time.time()
            if backup_due(c, now, every):
                await cycle(settings, c, now)
            if drill_due(c, now, drill_every):
                await _drill(settings, c, now)
            OVERDUE.set(overdue(c, now, every))
            await tell(settings, publisher, c, now)
            ticks = None if ticks is None else ticks - 1
            await asyncio.sleep(TICK_S if ticks is None or ticks else 0)
    finally:
        await redis.aclose()


async def _drill(settings: Settings, c: Clockwork, now: float) -> None:
    c.last_drill = now
    newest = latest(backups_root(settings))
    if newest is None:
        return
    c.drill_id = newest.directory.name
    try:
        report = await drill(settings, newest.directory, backup_key(settings))
    except Exception as exc:  # a failed drill is news, not a crash
        c.drill_passed, c.drill_detail = False, f"{type(exc).__name__}: {str(exc)[:200]}"
        log.warning("drill failed: %s", c.drill_detail)
    else:
        c.drill_passed = report.passed
        c.drill_detail = "; ".join(report.mismatches)[:300]
    if c.drill_passed:
        LAST_DRILL.set(time.time())
    else:
        FAILURES.labels("drill").inc()


async def tell(settings: Settings, publisher: SnapshotPublisher, c: Clockwork, now: float) -> None:
    """Publish the status; keep the scheduler's part of the alerts in place, news sent once.

    The part is written only when it is not what Redis holds (a lost Redis gets it again);
    the learner's publishes merge it in, so it neither flickers nor repeats."""
    every = settings.backup_every_hours
    await publisher.publish(CHANNEL, status(c, now, every), int(now * 1000))
    raised = alert(c, now, every)
    wanted = {"alerts": [raised]} if raised is not None else None
    if await publisher.part("alerts", SOURCE) != wanted:
        await publisher.publish_part("alerts", SOURCE, wanted, int(now * 1000))
    reason = raised["reason"] if raised is not None else ""
    if reason and reason != c.told:
        await _to_topic(settings, raised)
    c.told = reason


async def _to_topic(settings: Settings, raised: dict[str, Any] | None) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka, request_timeout_ms=10_000)
    try:
        await producer.start()
        await producer.send_and_wait(settings.topic("alerts"), orjson.dumps(raised), key=b"backup")
    except KafkaError as exc:
        log.warning("backup alert not sent to Kafka: %s", type(exc).__name__)
    finally:
        await producer.stop()
