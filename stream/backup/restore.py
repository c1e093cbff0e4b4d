"""``backup restore``: a verified backup onto an empty stack (or, told ``force``, any stack).

Order: verify everything first (nothing is touched if a byte is wrong); look at what the
stack holds and refuse, listing it, unless forced; then topics (created with their
partitions and configs, records in order, offsets kept where the broker allows), group
offsets, the store, the counters. The stack's workers must be stopped: a group with live
members cannot have its offsets set. Names are mapped from the backup's deployment
(topic prefix, app id) to this one's, so a backup also restores under another prefix.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from stream.backup import redis_copy, refill, store_copy
from stream.backup.container import ContainerReader
from stream.backup.frames import Frame, decode
from stream.backup.manifest import Manifest
from stream.backup.meter import Meter, silent
from stream.backup.verify import verify
from stream.settings import Settings
from stream.topics import drop_topics, owned_by

DROP_WAIT_S = 60.0
BATCH = 5000


class RestoreRefused(RuntimeError):
    """The backup does not verify, or the stack holds data and ``force`` was not given."""


@dataclass
class Outcome:
    """What a restore did (or, dry, would do): one line per step, and what it overwrote."""

    steps: list[str] = field(default_factory=list)
    overwritten: list[str] = field(default_factory=list)
    records: int = 0


def renamer(manifest: Manifest, settings: Settings) -> Callable[[str], str]:
    """Maps a topic or group name of the backup's deployment to this deployment's."""
    pairs = [
        (f"{manifest.topic_prefix}.", f"{settings.topic_prefix}."),
        (f"{manifest.app_id}-", f"{settings.app_id}-"),
        (f"{manifest.app_id}.", f"{settings.app_id}."),
    ]

    def rename(name: str) -> str:
        if name == manifest.app_id:
            return settings.app_id
        for old, new in pairs:
            if name.startswith(old):
                return new + name[len(old) :]
        return name

    return rename


async def occupied(settings: Settings, *, redis: bool = True) -> list[str]:
    """Everything of the deployment a restore would overwrite."""
    held = await refill.holding(settings)
    held += [f"store table {t} ({n} rows)" for t, n in store_copy.tables(settings).items()]
    if redis:
        held += redis_copy.holding(settings)
    return held


async def restore(
    settings: Settings, directory: Path, key: bytes | None, *, force: bool = False,
    dry_run: bool = False, redis: bool = True, meter: Meter = silent, expire: bool = True,
) -> Outcome:  # fmt: skip
    """Restore the backup in ``directory``; ``RestoreRefused`` before anything is changed.

    ``expire=False`` (drills) keeps every record whatever its age: the topics' retention
    would otherwise delete old records while they are being counted.
    """
    verdict = verify(directory, key, meter=meter)
    if not verdict.ok or verdict.manifest is None:
        raise RestoreRefused(
            "the backup does not verify, nothing restored:\n  " + "\n  ".join(verdict.problems)
        )
    manifest = verdict.manifest
    here = store_copy.dialect(settings)
    if manifest.store_file and manifest.store_dialect != here:
        raise RestoreRefused(
            f"the backup holds a {manifest.store_dialect} store but DOJO_DATABASE_URL is {here}: "
            "nothing restored"
        )
    outcome = Outcome(overwritten=await occupied(settings, redis=redis))
    if outcome.overwritten and not force:
        raise RestoreRefused(
            "the stack holds data; --force would overwrite:\n  " + "\n  ".join(outcome.overwritten)
        )
    rename = renamer(manifest, settings)
    if not expire:
        for topic in manifest.topics:
            topic.config = {**topic.config, "retention.ms": "-1"}
    outcome.steps = _plan(manifest, rename, redis=redis)
    if dry_run:
        return outcome
    if outcome.overwritten:
        await _drop(settings)
    await _topics(settings, directory, manifest, key, rename, meter, outcome)
    if manifest.store_file:
        with ContainerReader(directory / manifest.store_file, manifest.id, key) as source:
            store_copy.load(settings, source, manifest.store_dialect)
    if redis and manifest.redis_file:
        with ContainerReader(directory / manifest.redis_file, manifest.id, key) as source:
            redis_copy.load(settings, redis_copy.entries(source))
    return outcome


def _plan(manifest: Manifest, rename: Callable[[str], str], *, redis: bool) -> list[str]:
    steps = [
        f"create topic {rename(t.name)} ({t.partitions} partitions, "
        f"{sum(p.records for p in t.parts)} records)"
        for t in manifest.topics
    ]
    steps += [f"set offsets of group {rename(g)} on {len(t)} topics"
              for g, t in sorted(manifest.groups.items())]  # fmt: skip
    if manifest.store_file:
        steps.append(f"restore the {manifest.store_dialect} store ({len(manifest.tables)} tables)")
    if redis and manifest.redis_file:
        steps.append(f"restore {manifest.redis_keys} counter keys in Redis")
    return steps


async def _drop(settings: Settings) -> None:
    """Delete the deployment's topics and wait until the broker no longer lists them."""
    await drop_topics(settings)
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka)
    await admin.start()
    try:
        deadline = time.monotonic() + DROP_WAIT_S
        while any(owned_by(settings, n) for n in await admin.list_topics()):
            if time.monotonic() > deadline:
                raise RestoreRefused("the old topics were not deleted in time: try again")
            await asyncio.sleep(0.5)  # topic deletion completes asynchronously on the broker
    finally:
        await admin.close()


def _batches(source: ContainerReader) -> Iterator[list[Frame]]:
    batch: list[Frame] = []
    for frame in decode(source):
        batch.append(frame)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


async def _topics(
    settings: Settings, directory: Path, manifest: Manifest, key: bytes | None,
    rename: Callable[[str], str], meter: Meter, outcome: Outcome,
) -> None:  # fmt: skip
    for topic in manifest.topics:
        topic.name = rename(topic.name)
    await refill.create_topics(settings, manifest.topics)
    committed: dict[tuple[str, int], list[int]] = {}
    for group_topics in manifest.groups.values():
        for name, offsets in group_topics.items():
            for p, offset in offsets.items():
                committed.setdefault((rename(name), int(p)), []).append(offset)
    moved: dict[tuple[str, int], dict[int, int]] = {}
    tick = meter("restore", manifest.records, "records")
    producer = refill.producer(settings)
    await producer.start()
    try:
        for topic in manifest.topics:
            for part in topic.parts:
                base = await refill.pad(producer, settings, topic, part)
                carried = refill.OffsetMap(committed.get((topic.name, part.partition), []), base)
                with ContainerReader(directory / part.file, manifest.id, key) as source:
                    sent = await refill.write(
                        producer, topic.name, part.partition, _batches(source), carried, tick
                    )
                outcome.records += sent
                moved[(topic.name, part.partition)] = carried.finish()
    finally:
        await producer.stop()
    groups = {
        rename(group): {
            TopicPartition(rename(name), int(p)): moved[(rename(name), int(p))][offset]
            for name, offsets in group_topics.items()
            for p, offset in offsets.items()
        }
        for group, group_topics in manifest.groups.items()
    }
    await refill.commit_groups(settings, groups)
