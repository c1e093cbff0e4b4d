"""Backups that are damaged, foreign, sealed or pruned; drills; what is never in a backup.

A small deployment on the shared broker (raw records with keys and headers, a store, the
counters, and a visitor salt in Redis) is backed up; copies of that backup are then
damaged one way each. ``verify`` names the damaged file; ``restore`` refuses before it
touches anything. An encrypted backup holds no plain byte of a record and opens only with
its key. ``prune`` keeps what ``DOJO_BACKUP_KEEP`` says; a drill restores onto a scratch
broker and passes; ``--force`` restores over a stack that holds data.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import redis
from aiokafka import AIOKafkaProducer

from stream.backup.catalog import entries, prune
from stream.backup.container import CHUNK, ContainerReader
from stream.backup.create import backup_key, create
from stream.backup.drill import drill
from stream.backup.manifest import Manifest
from stream.backup.restore import RestoreRefused, restore
from stream.models import Keys
from stream.settings import Secret, Settings
from stream.store import open_store
from tests.integration.test_backup_roundtrip import everything

pytestmark = pytest.mark.integration

SALT = b"salt-that-must-never-leave-redis"
SECRET_VALUE = b"page /events/robot-club value never plain on disk"
KEY = "k" * 43 + "="


async def fill(settings: Settings, n: int = 300) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka, acks="all")
    # Recent timestamps: the topics' retention deletes older records (restored ones too).
    now = int(time.time() * 1000) - 60_000
    await producer.start()
    try:
        for i in range(n):
            await producer.send(
                settings.topic_raw, SECRET_VALUE + str(i).encode(), key=f"s{i % 7}".encode(),
                headers=[("h", bytes([i % 256]))], timestamp_ms=now + i,
            )  # fmt: skip
        await producer.send_and_wait(settings.topic_dlq, None, key=b"tombstone-like")
    finally:
        await producer.stop()


@pytest.fixture
def deployment(stack_settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    settings = replace(stack_settings, backup_dir=str(tmp_path / "backups"))
    asyncio.run(fill(settings))
    open_store(settings).dispose()  # an empty, migrated SQLite store
    client = redis.Redis.from_url(settings.redis_url)
    client.set(Keys.of(settings).salt("2026-12-03"), SALT)
    client.hset(Keys.of(settings).pipeline, "valid", 300)
    yield settings


def _plain_bytes(directory: Path, manifest: Manifest, key: bytes | None) -> bytes:
    out = bytearray()
    for name in manifest.files:
        with ContainerReader(directory / name, manifest.id, key) as source:
            while block := source.read(CHUNK):
                out += block
    return bytes(out)


def _cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dojo_pulse.cli", "backup", *args],
        env={**os.environ, **settings.to_env()}, capture_output=True, text=True, timeout=300,
        check=False,
    )  # fmt: skip


def test_damage_of_every_kind_is_named_and_nothing_is_restored(
    deployment: Settings, tmp_path: Path
) -> None:
    settings = deployment
    good, manifest = asyncio.run(create(settings))
    assert manifest.records == 301 and manifest.redis_keys == 1
    assert manifest.store_dialect == "sqlite" and "alembic_version" in manifest.tables
    plain = _plain_bytes(good, manifest, None)
    assert SECRET_VALUE in plain  # the reader really reads records...
    assert SALT not in plain and b"salt:" not in plain  # ...and the salts are never there
    other, _ = asyncio.run(create(settings))
    records = asyncio.run(everything(settings))
    part = next(p.file for t in manifest.topics for p in t.parts if t.name == settings.topic_raw
                and p.records)  # fmt: skip

    def damaged(name: str) -> Path:
        copy = tmp_path / "damaged" / name / good.name
        shutil.copytree(good, copy)
        return copy

    flipped = damaged("flip")
    raw = bytearray((flipped / part).read_bytes())
    raw[len(raw) // 2] ^= 0x40
    (flipped / part).write_bytes(bytes(raw))
    cut = damaged("cut")
    (cut / part).write_bytes((cut / part).read_bytes()[:-9])
    missing = damaged("missing")
    (missing / manifest.store_file).unlink()
    foreign = damaged("foreign")
    shutil.copy(other / "manifest.json", foreign / "manifest.json")
    stranger = damaged("stranger")
    shutil.copy(other / part, stranger / part)
    cases = {
        flipped: f"{part}: SHA-256 differs",
        cut: f"{part}: {(good / part).stat().st_size - 9} bytes, manifest says",
        missing: f"{manifest.store_file}: missing",
        foreign: f"its manifest belongs to backup {other.name!r} (foreign)",
        stranger: f"{part}: belongs to backup {other.name!r}",
    }
    for directory, message in cases.items():
        done = _cli(settings, "verify", str(directory), "--quiet")
        assert done.returncode == 1 and message in done.stderr, (directory, done.stderr)
        with pytest.raises(RestoreRefused, match="does not verify, nothing restored"):
            asyncio.run(restore(settings, directory, None, force=True))
    elsewhere = replace(settings, database_url=Secret("postgresql://u@127.0.0.1:1/nowhere"))
    with pytest.raises(
        RestoreRefused, match="holds a sqlite store but DOJO_DATABASE_URL is postgre"
    ):
        asyncio.run(restore(elsewhere, good, None, force=True))
    assert asyncio.run(everything(settings)) == records  # nothing was touched

    # --force restores over a stack that holds data, after saying what it overwrites.
    with pytest.raises(RestoreRefused, match=f"topic {settings.topic_raw} \\(300 records\\)"):
        asyncio.run(restore(settings, good, None))
    outcome = asyncio.run(restore(settings, good, None, force=True))
    assert outcome.records == 301 and "store table alembic_version (1 rows)" in outcome.overwritten
    assert asyncio.run(everything(settings)) == records


def test_an_encrypted_backup_holds_no_plain_record_and_needs_its_key(deployment: Settings) -> None:
    settings = replace(deployment, backup_key=Secret(KEY))
    directory, manifest = asyncio.run(create(settings))
    assert manifest.sealed_by
    on_disk = b"".join(p.read_bytes() for p in directory.rglob("*.zst"))
    assert SECRET_VALUE[:16] not in on_disk and KEY.encode() not in on_disk
    assert SECRET_VALUE in _plain_bytes(directory, manifest, backup_key(settings))
    done = _cli(replace(settings, backup_key=Secret("")), "verify", str(directory), "--quiet")
    assert done.returncode == 1 and "encrypted: set DOJO_BACKUP_KEY" in done.stderr
    wrong = _cli(replace(settings, backup_key=Secret("w" * 43 + "=")), "verify", str(directory))
    assert wrong.returncode == 1 and "another DOJO_BACKUP_KEY" in wrong.stderr
    hostile = _cli(replace(settings, backup_key=Secret("not a key")), "create", "--quiet")
    assert hostile.returncode == 1 and "32 bytes in URL-safe base64" in hostile.stderr
    assert _cli(settings, "verify", manifest.id, "--quiet").stdout.startswith("OK")


def test_prune_keeps_the_newest_and_a_drill_passes_on_it(deployment: Settings) -> None:
    settings = deployment
    made = [asyncio.run(create(settings))[1].id for _ in range(3)]
    root = Path(settings.backup_dir)
    (root / ".crashed.partial").mkdir()
    os.utime(root / ".crashed.partial", (0, 0))
    assert prune(root, 0, 0, 0, dry_run=True) == [*made[:2], ".crashed.partial"]
    assert len(entries(root)) == 3  # a dry run deletes nothing
    done = _cli(replace(settings, backup_keep=("0", "0", "0")), "prune")
    assert done.returncode == 0 and f"deleted 3: {made[0]}, {made[1]}" in done.stdout
    assert [e.directory.name for e in entries(root)] == [made[2]]
    assert not (root / ".crashed.partial").exists()

    report = asyncio.run(drill(settings, root / made[2], None))
    assert report.passed, report.mismatches
    assert report.records == 301
