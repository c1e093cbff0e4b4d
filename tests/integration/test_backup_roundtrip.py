"""A backup restores: traffic, backup, everything stopped and wiped, restore, identical.

On a private broker: simulated traffic is folded by a worker (metric checkpoints in the
changelogs, the learner's in its topic, closed minutes in the store), then backed up with
the command line. The broker's data directory, the store and Redis are wiped and the broker
starts empty; ``backup restore`` puts it all back. Every topic's records (offset, key,
value, headers, timestamp), every group's offsets, the store's rows and the counters are
identical to before; a worker started on the restored stack counts more traffic on top
of the restored checkpoints and lands exactly on the ground truth of both rounds.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import redis
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from dojo_pulse.simulation import generate
from stream.backup.capture import deployment_group
from stream.backup.redis_copy import counter_keys
from stream.settings import Settings
from stream.sketches.windows import day_start
from stream.store import database_url
from stream.topics import ensure_topics, owned_by
from tests.integration.conftest import PrivateKafka, Proc, group_lag, wait_for
from tests.integration.test_ground_truth import produce, published_at, snapshot

pytestmark = pytest.mark.integration

RATE = 20
DURATION_S = 330  # minutes close 2 minutes after their end (windows.DEFAULT_LATENESS_MS)


def cli(settings: Settings, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """``dojo-pulse <args>`` with ``settings``' environment; its output."""
    env = {**os.environ, **settings.to_env()}
    done = subprocess.run(
        [sys.executable, "-m", "dojo_pulse.cli", *args], env=env, capture_output=True,
        text=True, timeout=600, check=False,
    )  # fmt: skip
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


async def everything(settings: Settings) -> dict[tuple[str, int], list[tuple[Any, ...]]]:
    """Every record of every topic of the deployment, by partition."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka, enable_auto_commit=False,
                                max_partition_fetch_bytes=32 << 20)  # fmt: skip
    await admin.start()
    await consumer.start()
    try:
        names = [n for n in await admin.list_topics() if owned_by(settings, n)]
        tps = [TopicPartition(t["topic"], p["partition"])
               for t in await admin.describe_topics(names) for p in t["partitions"]]  # fmt: skip
        starts, ends = await consumer.beginning_offsets(tps), await consumer.end_offsets(tps)
        out: dict[tuple[str, int], list[tuple[Any, ...]]] = {}
        for tp in tps:
            rows: list[tuple[Any, ...]] = []
            consumer.assign([tp])
            consumer.seek(tp, starts[tp])
            while await consumer.position(tp) < ends[tp]:
                for r in (await consumer.getmany(tp, timeout_ms=500)).get(tp, []):
                    if r.offset < ends[tp]:
                        rows.append((r.offset, r.key, r.value, tuple(r.headers), r.timestamp))
            out[(tp.topic, tp.partition)] = rows
        return out
    finally:
        await consumer.stop()
        await admin.close()


async def groups(settings: Settings) -> dict[str, dict[TopicPartition, int]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka)
    await admin.start()
    try:
        found = {}
        for group, _ in await admin.list_consumer_groups():
            if deployment_group(settings, group):
                offsets = await admin.list_consumer_group_offsets(group)
                found[group] = {tp: m.offset for tp, m in offsets.items()}
        return found
    finally:
        await admin.close()


def store_rows(settings: Settings) -> dict[str, list[tuple[Any, ...]]]:
    engine = sa.create_engine(database_url(settings))
    try:
        with engine.connect() as connection:
            names = sa.inspect(connection).get_table_names()
            return {n: sorted(tuple(r) for r in connection.execute(sa.text(f"SELECT * FROM {n}")))
                    for n in names}  # fmt: skip
    finally:
        engine.dispose()


def counters(settings: Settings) -> dict[str, Any]:
    client = redis.Redis.from_url(settings.redis_url)
    return {name: client.dump(name) for name in counter_keys(settings).values()}


def caught_up(settings: Settings, worker: Proc, views: int) -> None:
    wait_for(
        lambda: snapshot(settings, "traffic").get("today", {}).get("views", 0) >= views
        or not worker.alive(), 240, f"{views} views counted",
    )  # fmt: skip
    assert worker.alive(), worker.output()
    wait_for(lambda: asyncio.run(group_lag(settings, settings.topic_events)) == 0, 90,
             "dojo.events committed")  # fmt: skip
    since = int(time.time() * 1000)
    wait_for(lambda: published_at(settings, "traffic") > since, 30, "a fresh traffic snapshot")


def test_a_backup_restores_onto_a_wiped_stack_identically(
    stack_settings: Settings, private_kafka: PrivateKafka, start: Callable[..., Proc],
    tmp_path: Path,
) -> None:  # fmt: skip
    settings = replace(stack_settings, kafka=private_kafka.bootstrap,
                       backup_dir=str(tmp_path / "backups"))  # fmt: skip
    asyncio.run(ensure_topics(settings))
    now = int(time.time() * 1000)
    start_ms = max(now - DURATION_S * 1000, day_start(now) + 1)
    first, truth1 = generate(5, rate=RATE, duration_s=(now - start_ms) / 1000 - 30,
                             start_ms=start_ms, invalid_ratio=0.05)  # fmt: skip
    views1 = sum(truth1.to_dict()["page_views_by_url"].values())
    assert views1 > 100

    worker = start(["worker"], settings)
    asyncio.run(produce(settings, list(first)))
    caught_up(settings, worker, views1)
    wait_for(lambda: sum(len(r) for r in store_rows(settings).values()) > 1, 120,
             "closed minutes in the store")  # fmt: skip
    worker.stop()
    before = snapshot(settings, "traffic")["today"]
    assert before["views"] == views1
    records, offsets = asyncio.run(everything(settings)), asyncio.run(groups(settings))
    rows, held = store_rows(settings), counters(settings)
    assert any(t.endswith("-changelog") and r for (t, _), r in records.items())
    assert settings.validate_group in offsets and settings.app_id in offsets

    made = cli(settings, "backup", "create", "--quiet").stdout
    backup_id = made.split(":")[0]
    assert f"{sum(len(r) for r in records.values())} records" in made
    assert backup_id in cli(settings, "backup", "list").stdout
    assert cli(settings, "backup", "verify", backup_id, "--quiet").stdout.startswith("OK")

    # Everything stops; the broker's data, the store and Redis are wiped; the broker starts empty.
    private_kafka.stop()
    shutil.rmtree(private_kafka.settings.data_dir / "kafka" / "storage")
    store = Path(sa.make_url(database_url(settings)).database or "")
    for path in store.parent.glob(store.name + "*"):
        path.unlink()
    redis.Redis.from_url(settings.redis_url).flushdb()
    private_kafka.start()
    assert asyncio.run(everything(settings)) == {}

    dry = cli(settings, "backup", "restore", backup_id, "--dry-run", "--quiet").stdout
    assert f"would create topic {settings.topic_events}" in dry
    assert asyncio.run(everything(settings)) == {}  # a dry run changes nothing
    restored = cli(settings, "backup", "restore", backup_id, "--quiet").stdout
    assert f"restored {backup_id}" in restored

    assert asyncio.run(everything(settings)) == records
    assert asyncio.run(groups(settings)) == offsets
    assert store_rows(settings) == rows
    assert counters(settings) == held

    # A stack that holds data is refused, and the refusal says what would be overwritten.
    refused = cli(settings, "backup", "restore", backup_id, "--quiet", check=False)
    assert refused.returncode == 1
    assert f"topic {settings.topic_events} (" in refused.stderr and "--force" in refused.stderr

    # The restored checkpoints and offsets carry on: more traffic lands on the exact truth.
    later = int(time.time() * 1000)
    second, truth2 = generate(6, rate=RATE, duration_s=20, start_ms=later - 25_000)
    views2 = sum(truth2.to_dict()["page_views_by_url"].values())
    worker = start(["worker"], settings)
    asyncio.run(produce(settings, list(second)))
    caught_up(settings, worker, views1 + views2)
    after = snapshot(settings, "traffic")["today"]
    assert after["views"] == views1 + views2
