"""The backup scheduler: backup, verify, prune on a schedule; drills too; health out.

``dojo-pulse run`` starts it as a child process (``dojo-pulse backup schedule``). Its
``/metrics`` (on ``DOJO_BACKUP_WEB_PORT``) carries the last success time, size, records
and duration; when a backup fails or is overdue (no success for 1.5 intervals) it raises an
alert on the live feed's alerts channel and on the alerts topic, and it publishes its
status on the ``backups`` channel. Decisions are pure functions of times passed in.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server
from redis.asyncio import Redis
from redis.exceptions import RedisError

from stream.backup.catalog import latest, prune
from stream.backup.create import backup_key, backups_root, create
from stream.backup.drill import drill
from stream.backup.verify import verify
from stream.models.keys import Keys
from stream.settings import Settings
from stream.sinks.publish import SnapshotPublisher

log = logging.getLogger(__name__)

FIRST_AFTER_S = 60.0  # the first backup of a fresh stack waits for its first events
RETRY_AFTER_S = 600.0  # a failed backup is tried again this much later, not at once
OVERDUE_FACTOR = 1.5
TICK_S = 15.0
CHANNEL = "backups"

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


@dataclass
class Clockwork:
    """What the scheduler remembers between ticks (seconds since the epoch)."""

    started: float
    last_success: float = 0.0
    last_attempt: float = 0.0
    last_drill: float = 0.0
    failure: str = ""  # why the last attempt failed ("" when it did not)


def backup_due(c: Clockwork, now: float, every_h: float) -> bool:
    """Whether to make a backup now."""
    if every_h <= 0 or now - c.started < FIRST_AFTER_S:
        return False
    if c.failure and now - c.last_attempt < RETRY_AFTER_S:
        return False
    return now - c.last_success >= every_h * 3600


def drill_due(c: Clockwork, now: float, every_h: float) -> bool:
    return every_h > 0 and c.last_success > 0 and now - c.last_drill >= every_h * 3600


def overdue(c: Clockwork, now: float, every_h: float) -> bool:
    """No good backup for 1.5 intervals (counted from the start when there was none)."""
    since = c.last_success or c.started + FIRST_AFTER_S
    return every_h > 0 and now - since > every_h * 3600 * OVERDUE_FACTOR


def alert(c: Clockwork, now: float, every_h: float) -> dict[str, Any] | None:
    """The live alert for the scheduler's state, or None when all is well."""
    if c.failure:
        reason = f"backup failed: {c.failure}"
    elif overdue(c, now, every_h):
        reason = f"backup overdue: none verified for {(now - c.last_success) / 3600:.1f} h"
    else:
        return None
    return {"kind": "drop", "metric": "backup", "reason": reason, "minute": int(now * 1000),
            "value": None, "expected": None, "ratio": None}  # fmt: skip


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
    c.failure, c.last_success = "", time.time()
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
            await tell(settings, publisher, redis, c, now)
            ticks = None if ticks is None else ticks - 1
            await asyncio.sleep(TICK_S if ticks is None or ticks else 0)
    finally:
        await redis.aclose()


async def _drill(settings: Settings, c: Clockwork, now: float) -> None:
    c.last_drill = now
    newest = latest(backups_root(settings))
    if newest is None:
        return
    try:
        report = await drill(settings, newest.directory, backup_key(settings))
    except Exception as exc:  # a failed drill is news, not a crash
        report = None
        log.warning("drill failed: %s", exc)
    if report is not None and report.passed:
        LAST_DRILL.set(time.time())
    else:
        FAILURES.labels("drill").inc()


async def tell(
    settings: Settings, publisher: SnapshotPublisher, redis: Redis, c: Clockwork, now: float
) -> None:
    """Publish the status; while something is wrong, keep the alert on the live feed."""
    status = {"last_success_ms": int(c.last_success * 1000), "failure": c.failure,
              "overdue": overdue(c, now, settings.backup_every_hours)}  # fmt: skip
    await publisher.publish(CHANNEL, status, int(now * 1000))
    raised = alert(c, now, settings.backup_every_hours)
    if raised is None:
        return
    try:  # the learner owns the alerts snapshot; ours goes on top of its list
        raw = await redis.get(publisher.keys.snapshot("alerts"))
        data = orjson.loads(raw)["data"] if raw else {"alerts": []}
    except (RedisError, OSError, orjson.JSONDecodeError, KeyError, TypeError):
        data = {"alerts": []}
    others = [a for a in data.get("alerts", []) if a.get("metric") != "backup"]
    await publisher.publish("alerts", {**data, "alerts": [raised, *others]}, int(now * 1000))
    await _to_topic(settings, raised)


async def _to_topic(settings: Settings, raised: dict[str, Any]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka, request_timeout_ms=10_000)
    try:
        await producer.start()
        await producer.send_and_wait(settings.topic("alerts"), orjson.dumps(raised), key=b"backup")
    except KafkaError as exc:
        log.warning("backup alert not sent to Kafka: %s", type(exc).__name__)
    finally:
        await producer.stop()
