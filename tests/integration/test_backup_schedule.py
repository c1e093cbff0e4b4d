"""The scheduler on the real stack: a backup that verifies, its gauges, and the alert."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import httpx
import orjson
import pytest

from infra.process import free_port
from stream.backup.catalog import entries
from stream.backup.clockwork import FIRST_AFTER_S, Clockwork
from stream.backup.schedule import cycle, tell
from stream.models import Keys
from stream.settings import Settings
from stream.sinks.publish import SnapshotPublisher
from tests.integration.conftest import Proc, wait_for
from tests.integration.test_backup_faults import fill
from tests.integration.test_ground_truth import snapshot

pytestmark = pytest.mark.integration


def test_a_cycle_backs_up_verifies_and_the_process_serves_its_gauges(
    stack_settings: Settings, start: Callable[..., Proc], tmp_path: Path
) -> None:
    settings = replace(stack_settings, backup_dir=str(tmp_path / "b"), backup_web_port=free_port())
    asyncio.run(fill(settings, 50))
    c = Clockwork(started=0.0)
    asyncio.run(cycle(settings, c, time.time()))
    assert c.failure == "" and c.last_success > 0
    assert [e.manifest.records for e in entries(tmp_path / "b") if e.manifest] == [51]

    proc = start(["backup", "schedule"], settings)
    url = f"http://{settings.worker_web_host}:{settings.backup_web_port}/metrics"

    def gauge() -> float:
        try:
            text = httpx.get(url, timeout=1).text
        except httpx.HTTPError:
            return -1.0
        line = next((x for x in text.splitlines()
                     if x.startswith("dojo_backup_last_success_timestamp_seconds ")), "")  # fmt: skip
        return float(line.split()[1]) if line else -1.0

    wait_for(lambda: gauge() > 0 or not proc.alive(), 30, "the scheduler's /metrics")
    assert proc.alive(), proc.output()
    assert gauge() == pytest.approx(c.last_success, abs=5)  # read back from the newest backup


def test_a_failed_backup_raises_an_alert_that_stays_without_being_sent_again(
    stack_settings: Settings, tmp_path: Path
) -> None:
    gone = replace(stack_settings, kafka=f"127.0.0.1:{free_port()}", backup_dir=str(tmp_path))
    c = Clockwork(started=0.0, last_success=1.0)
    stamps: list[int] = []

    async def fail_and_tell() -> None:
        from redis.asyncio import Redis

        await cycle(gone, c, time.time())
        redis = Redis.from_url(gone.redis_url)
        publisher = SnapshotPublisher(redis, Keys.of(gone))
        try:
            await tell(gone, publisher, c, time.time())
            stamps.append(envelope_ts(await redis.get(Keys.of(gone).snapshot("alerts"))))
            # The learner publishes its own part: the backup alert stays in the snapshot.
            await publisher.publish_part("alerts", "learn_online", {"alerts": []}, 5)
            await tell(gone, publisher, c, time.time() + 15)  # the next tick: nothing new
            stamps.append(envelope_ts(await redis.get(Keys.of(gone).snapshot("alerts"))))
        finally:
            await redis.aclose()

    asyncio.run(fail_and_tell())
    assert c.failure.startswith("KafkaConnectionError")
    alerts = snapshot(gone, "alerts")["alerts"]
    assert [a["metric"] for a in alerts] == ["backup"]
    assert alerts[0]["reason"].startswith("backup failed: KafkaConnectionError")
    assert stamps[1] == 5  # the learner's publish was the last: the scheduler did not repeat
    assert snapshot(gone, "backups")["failure"] == c.failure
    assert c.told == alerts[0]["reason"]
    assert list(tmp_path.iterdir()) == []  # nothing half-made is left


def envelope_ts(raw: bytes | str | None) -> int:
    assert raw is not None
    ts = orjson.loads(raw)["ts"]
    assert isinstance(ts, int)
    return ts


def test_the_scheduler_of_a_fresh_stack_makes_its_first_backup_within_minutes(
    stack_settings: Settings, start: Callable[..., Proc], tmp_path: Path
) -> None:
    settings = replace(stack_settings, backup_dir=str(tmp_path / "b"), backup_web_port=free_port())
    asyncio.run(fill(settings, 20))
    began = time.time()
    proc = start(["backup", "schedule"], settings)
    wait_for(lambda: bool(entries(tmp_path / "b")) or not proc.alive(), 180, "a first backup")
    assert proc.alive(), proc.output()
    assert time.time() - began < FIRST_AFTER_S + 60
    wait_for(lambda: snapshot(settings, "backups").get("last_success_ms", 0) > 0, 60,
             "the backups status on the live channel")  # fmt: skip
    status = snapshot(settings, "backups")
    assert status["failure"] == "" and status["overdue"] is False
    assert [e.manifest.records for e in entries(tmp_path / "b") if e.manifest] == [21]
