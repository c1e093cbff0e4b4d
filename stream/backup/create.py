"""``backup create``: one backup with one id, written under a temporary name, then renamed."""

from __future__ import annotations

import secrets
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

from stream.backup import capture, redis_copy, store_copy
from stream.backup.container import ContainerWriter, Written, key_id, parse_key
from stream.backup.frames import encode
from stream.backup.manifest import Manifest
from stream.backup.meter import Meter, silent
from stream.settings import Settings

STORE_FILE = "store/{dialect}.zst"
REDIS_FILE = "redis/counters.zst"


def backups_root(settings: Settings) -> Path:
    """Where backups are written and looked for (``DOJO_BACKUP_DIR``)."""
    if settings.backup_dir:
        return Path(settings.backup_dir).expanduser()
    return settings.data_dir / "backups"


def backup_key(settings: Settings) -> bytes | None:
    """The sealing key from ``DOJO_BACKUP_KEY`` (None: backups are not encrypted)."""
    text = settings.backup_key.reveal()
    return parse_key(text) if text else None


def new_id(now_ms: int) -> str:
    """A backup id: its UTC time (sortable) and a random tail (two in one second differ)."""
    moment = datetime.fromtimestamp(now_ms / 1000, UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{moment}-{secrets.token_hex(3)}"


def _record(files: dict[str, dict[str, object]], name: str, written: Written) -> None:
    files[name] = {"sha256": written.sha256, "bytes": written.bytes}


async def create(
    settings: Settings, *, root: Path | None = None, meter: Meter = silent,
    now_ms: int | None = None, redis: bool = True,
) -> tuple[Path, Manifest]:  # fmt: skip
    """Make one backup under ``root``; its directory and manifest. Nothing is left on failure."""
    root = root or backups_root(settings)
    key = backup_key(settings)
    started = now_ms if now_ms is not None else int(time.time() * 1000)
    manifest = Manifest(new_id(started), started, settings.topic_prefix, settings.app_id)
    manifest.sealed_by = key_id(key) if key else None
    partial = root / f".{manifest.id}.partial"
    partial.mkdir(parents=True)
    try:
        await _topics(settings, manifest, partial, key, meter)
        _store(settings, manifest, partial, key, meter)
        if redis:
            out = ContainerWriter(partial / _made(partial, REDIS_FILE), manifest.id, key)
            manifest.redis_keys = redis_copy.dump(settings, out)
            manifest.redis_file = REDIS_FILE
            _record(manifest.files, REDIS_FILE, out.close())
        manifest.finished_ms = int(time.time() * 1000)
        manifest.save(partial)
        final = root / manifest.id
        partial.rename(final)
        return final, manifest
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


def _made(directory: Path, name: str) -> str:
    (directory / name).parent.mkdir(parents=True, exist_ok=True)
    return name


async def _topics(
    settings: Settings, manifest: Manifest, partial: Path, key: bytes | None, meter: Meter
) -> None:
    cut = await capture.take_cut(settings)
    manifest.topics, manifest.groups = cut.topics, cut.groups
    total = sum(part.end - part.start for topic in cut.topics for part in topic.parts)
    tick = meter("topics", total, "records")
    for topic in cut.topics:
        outs = {
            part.partition: ContainerWriter(partial / _made(partial, part.file), manifest.id, key)
            for part in topic.parts
        }
        parts = {part.partition: part for part in topic.parts}
        try:
            async for partition, records in capture.read_topic(settings, topic, tick):
                part = parts[partition]
                outs[partition].write(b"".join(
                    encode(r.offset, r.timestamp, r.timestamp_type, r.key, r.value, r.headers)
                    for r in records))  # fmt: skip
                if part.first < 0:
                    part.first = records[0].offset
                part.last = records[-1].offset
                part.records += len(records)
        except BaseException:
            for out in outs.values():
                out.abort()
            raise
        for partition, out in outs.items():
            _record(manifest.files, parts[partition].file, out.close())


def _store(
    settings: Settings, manifest: Manifest, partial: Path, key: bytes | None, meter: Meter
) -> None:
    if not store_copy.present(settings):
        return
    manifest.store_dialect = store_copy.dialect(settings)
    manifest.store_file = STORE_FILE.format(dialect=manifest.store_dialect)
    manifest.store_revision = store_copy.revision(settings)
    tick = meter("store", None, "B")
    out = ContainerWriter(partial / _made(partial, manifest.store_file), manifest.id, key)
    try:
        manifest.tables = store_copy.dump(settings, out, partial, tick)
    except BaseException:
        out.abort()
        raise
    _record(manifest.files, manifest.store_file, out.close())
