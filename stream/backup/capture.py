"""Read the deployment's Kafka state for a backup: topics, configs, groups, then records.

Consistency: group offsets are read first, then every partition's end offset (the cut),
then each partition is read up to its cut. A committed offset never passes the end it was
committed at, so every restored group resumes at or before the cut, inside the backup.
Records written after the cut belong to the next backup.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.structs import ConsumerRecord

from stream.backup.manifest import Part, Topic
from stream.backup.meter import Tick
from stream.settings import Settings
from stream.topics import MAX_CHECKPOINT_BYTES, owned_by

DYNAMIC_TOPIC_CONFIG = 1  # DescribeConfigs source: set on the topic (the rest are defaults)
FETCH_BYTES = 32 * 1024 * 1024
READ_TIMEOUT_MS = 500


@dataclass
class Cut:
    """The broker side of one backup, fixed before any record is read."""

    topics: list[Topic]
    groups: dict[str, dict[str, dict[str, int]]]


def deployment_group(settings: Settings, group: str) -> bool:
    """Whether consumer group ``group`` is one of the deployment's (its app id's)."""
    return group == settings.app_id or group.startswith(f"{settings.app_id}.")


async def take_cut(settings: Settings) -> Cut:
    """The deployment's topics, their configs and partitions' offsets, and its groups."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka, request_timeout_ms=30_000)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka, enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        names = sorted(n for n in await admin.list_topics() if owned_by(settings, n))
        groups: dict[str, dict[str, dict[str, int]]] = {}
        for group, _kind in await admin.list_consumer_groups():
            if deployment_group(settings, group):
                offsets = await admin.list_consumer_group_offsets(group)
                for tp, meta in sorted(offsets.items()):
                    if tp.topic in names and meta.offset >= 0:
                        groups.setdefault(group, {}).setdefault(tp.topic, {})[str(tp.partition)] = (
                            meta.offset
                        )
        described: list[dict[str, Any]] = await admin.describe_topics(names) if names else []
        configs = await _configs(admin, names)
        topics: list[Topic] = []
        for entry in sorted(described, key=lambda t: str(t["topic"])):
            parts = sorted(entry["partitions"], key=lambda p: int(p["partition"]))
            name = entry["topic"]
            topics.append(
                Topic(
                    name,
                    len(parts),
                    max(len(parts[0]["replicas"]), 1) if parts else 1,
                    configs.get(name, {}),
                )
            )
        tps = [TopicPartition(t.name, p) for t in topics for p in range(t.partitions)]
        starts = await consumer.beginning_offsets(tps) if tps else {}
        ends = await consumer.end_offsets(tps) if tps else {}
        for topic in topics:
            for p in range(topic.partitions):
                tp = TopicPartition(topic.name, p)
                file = f"topics/{topic.name}/{p}.rec.zst"
                topic.parts.append(Part(p, file, start=starts[tp], end=ends[tp]))
        return Cut(topics, groups)
    finally:
        await consumer.stop()
        await admin.close()


async def _configs(admin: AIOKafkaAdminClient, names: list[str]) -> dict[str, dict[str, str]]:
    if not names:
        return {}
    resources = [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
    out: dict[str, dict[str, str]] = {}
    for response in await admin.describe_configs(resources):
        for resource in response.to_object()["resources"]:
            out[resource["resource_name"]] = {
                entry["config_names"]: entry["config_value"]
                for entry in resource["config_entries"]
                if entry["config_source"] == DYNAMIC_TOPIC_CONFIG and not entry["is_sensitive"]
            }
    return out


async def read_topic(
    settings: Settings, topic: Topic, tick: Tick = lambda _n: None
) -> AsyncIterator[tuple[int, list[ConsumerRecord[bytes, bytes]]]]:
    """Every partition's records from its log start up to the cut, as (partition, batch).

    One consumer fetches all of a topic's partitions at once (one at a time would wait a
    fetch round trip per partition); a partition that reached its cut is paused.
    """
    cut = {TopicPartition(topic.name, p.partition): p for p in topic.parts if p.end > p.start}
    if not cut:
        return
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka,
        enable_auto_commit=False,
        auto_offset_reset="earliest",  # a log start that moved on since the cut
        max_partition_fetch_bytes=max(FETCH_BYTES, MAX_CHECKPOINT_BYTES),
        fetch_max_bytes=FETCH_BYTES * 2,
    )
    await consumer.start()
    try:
        consumer.assign(list(cut))
        for tp, part in cut.items():
            consumer.seek(tp, part.start)
        open_ = set(cut)
        while open_:
            batch = await consumer.getmany(*open_, timeout_ms=READ_TIMEOUT_MS, max_records=50_000)
            for tp, records in batch.items():
                end = cut[tp].end
                kept = [r for r in records if r.offset < end]
                if kept:
                    tick(len(kept))
                    yield tp.partition, kept
            for tp in list(open_):
                if await consumer.position(tp) >= cut[tp].end:
                    open_.discard(tp)
                    consumer.pause(tp)
    finally:
        await consumer.stop()
