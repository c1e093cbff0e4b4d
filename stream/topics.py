"""The topics of Dojo Pulse: names, keys, partitions and retention, and creating them.

Topics are created explicitly (the broker runs with auto-create off) so that partition
counts are chosen, not inherited: a Faust table and the stream that feeds it must be
co-partitioned, and a topic auto-created with the wrong count stalls the worker.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from stream.settings import Settings

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
MAX_CHECKPOINT_BYTES = 16 * 1024 * 1024  # a held state's checkpoint is one message
METRIC_CHANNELS = ("traffic", "forms", "vitals", "funnels", "journeys", "heatmaps", "experiments")
# The dojo agent's one state feeds three topics (``stream.metrics.dojo_board``).
DOJO_SECTIONS = ("registrations", "attendance", "resources")
# Every channel the live feed carries: the metrics, the recent events, the validate stage's
# counters, the learner's four (``LearningState.snapshot``) and the backup scheduler's status.
LIVE_CHANNELS = (
    *METRIC_CHANNELS, "activity", "pipeline", "engagement", "recommendations", "segments", "alerts",
    "dojo", "backups",
)  # fmt: skip


def replayed_topic(settings: Settings) -> str:
    """Where ``dojo-pulse dlq replay`` records each dead letter it replayed (compacted)."""
    return settings.topic("events.dlq.replayed")


def content_topic(settings: Settings) -> str:
    """The live content catalogue: the published snapshot per item id (compacted)."""
    return settings.topic("content")


def content_revisions_topic(settings: Settings) -> str:
    """Every content revision as it is written, keyed by item id."""
    return settings.topic("content.revisions")


@dataclass(frozen=True)
class TopicSpec:
    """One topic as the product expects it to exist."""

    name: str
    key: str
    carries: str
    partitions: int
    retention_ms: int  # -1: kept for ever (with compaction: the newest per key)
    compact: bool = False
    max_message_bytes: int = 0  # 0: the broker's default (about 1 MB)

    def config(self) -> dict[str, str]:
        policy = "compact,delete" if self.compact else "delete"
        config = {"retention.ms": str(self.retention_ms), "cleanup.policy": policy}
        if self.max_message_bytes:
            config["max.message.bytes"] = str(self.max_message_bytes)
        return config


def topic_specs(settings: Settings) -> list[TopicSpec]:
    """Every topic the product reads or writes, from settings."""
    keep = settings.retention_hours * HOUR_MS
    parts = settings.partitions
    specs = [
        TopicSpec(settings.topic_raw, "session id", "beacon requests + server facts", parts, keep),
        TopicSpec(
            settings.topic_events, "none (partition from session id)",
            "bundles of validated session batches", parts, keep,
        ),
        TopicSpec(
            settings.topic_dlq, "session id", "rejected events with reasons", parts,
            settings.dlq_retention_hours * HOUR_MS,
        ),
        # A record is useless once its dead letter has expired: the same retention, compacted.
        TopicSpec(
            replayed_topic(settings), "dead letter's topic/partition/offset",
            "replayed dead letters", 1, settings.dlq_retention_hours * HOUR_MS, compact=True,
        ),
        TopicSpec(settings.topic("scores.engagement"), "visitor id", "engagement", parts, keep),
        TopicSpec(settings.topic("alerts"), "alert kind", "anomaly and health alerts", 1, keep),
        # The online models' checkpoint must outlive any quiet spell: compacted, never expired.
        TopicSpec(
            settings.topic_learn_checkpoints, "agent name", "learn_online checkpoints", 1, -1,
            compact=True, max_message_bytes=MAX_CHECKPOINT_BYTES,
        ),
        # Closed minutes for the historian: compacted (a minute sent again replaces itself)
        # and deleted once older than the store keeps minutes.
        TopicSpec(
            settings.topic("history.minutes"), "channel|minute start|part",
            "closed-minute tallies of every channel", 1,
            settings.history_minutes_days * DAY_MS, compact=True,
            max_message_bytes=MAX_CHECKPOINT_BYTES,
        ),
        # The site's catalogue: the newest message per item is its live snapshot (or a
        # tombstone once unpublished), so it is compacted and never expired.
        TopicSpec(
            content_topic(settings), "item id", "live content snapshots", 1, -1, compact=True,
        ),
        TopicSpec(
            content_revisions_topic(settings), "item id", "every content revision", 1, -1,
        ),
    ]  # fmt: skip
    specs += [
        TopicSpec(
            settings.topic(f"metrics.{channel}"),
            "metric key",
            f"{channel} snapshots",
            1,
            keep,
            True,
        )
        for channel in (*METRIC_CHANNELS, *DOJO_SECTIONS)
    ]
    return specs


class TopicError(RuntimeError):
    """The broker refused or could not be reached while managing topics."""


class PartitionMismatch(TopicError):
    """A topic sized by ``DOJO_PARTITIONS`` exists on the broker with another count."""


def partition_mismatch(settings: Settings, existing: dict[str, int]) -> str | None:
    """What to do when a topic sized by ``DOJO_PARTITIONS`` has another count (None: none has).

    The agents keep one state per partition of ``settings.partitions`` and the validate
    stage packs bundles for the partitions the broker has: the two must agree.
    """
    for spec in topic_specs(settings):
        have = existing.get(spec.name)
        if spec.partitions == settings.partitions and have not in (None, spec.partitions):
            return (
                f"{spec.name} has {have} partitions but DOJO_PARTITIONS={settings.partitions}: "
                f"set DOJO_PARTITIONS={have} or recreate the topics"
            )
    return None


async def ensure_topics(settings: Settings, *, strict: bool = False) -> list[tuple[TopicSpec, str]]:
    """Create missing topics; report each as ``created``, ``exists`` or a partition mismatch.

    ``strict``: a partition mismatch raises ``PartitionMismatch`` before anything is created.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka, request_timeout_ms=10_000)
    try:
        await admin.start()
        existing = await describe(admin)
        mismatch = partition_mismatch(settings, existing)
        if strict and mismatch:
            raise PartitionMismatch(mismatch)
        report: list[tuple[TopicSpec, str]] = []
        missing = []
        for spec in topic_specs(settings):
            have = existing.get(spec.name)
            if have is None:
                missing.append(spec)
            elif have != spec.partitions:
                report.append(
                    (spec, f"exists with {have} partitions (settings say {spec.partitions})")
                )
            else:
                report.append((spec, "exists"))
        if missing:
            new = [NewTopic(s.name, s.partitions, 1, topic_configs=s.config()) for s in missing]
            # A concurrent caller may create them between describe and create.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(new)
            report += [(spec, "created") for spec in missing]
        return report
    except KafkaError as exc:
        raise TopicError(f"Kafka at {settings.kafka} refused topic management: {exc}") from exc
    finally:
        await admin.close()


async def describe(admin: AIOKafkaAdminClient) -> dict[str, int]:
    """Partition count of every topic on the broker."""
    described: list[dict[str, Any]] = await admin.describe_topics(await admin.list_topics())
    return {t["topic"]: len(t["partitions"]) for t in described if not t.get("error_code")}


def owned_by(settings: Settings, name: str) -> bool:
    """Whether topic ``name`` belongs to ``settings``' deployment (its prefix or its app id)."""
    return name.startswith(f"{settings.topic_prefix}.") or name.startswith(f"{settings.app_id}-")


async def drop_topics(settings: Settings) -> list[str]:
    """Delete every topic of ``settings``' deployment: its own and Faust's internal ones.

    A deployment that ends for good (a test's, a bench run's) must not leave its partitions
    behind: a broker loads every partition's log at start, and thousands of forgotten ones
    turn a start of seconds into minutes.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka, request_timeout_ms=30_000)
    try:
        await admin.start()
        doomed = sorted(name for name in await admin.list_topics() if owned_by(settings, name))
        if doomed:
            await admin.delete_topics(doomed)
        return doomed
    except KafkaError as exc:
        raise TopicError(f"Kafka at {settings.kafka} refused to delete topics: {exc}") from exc
    finally:
        await admin.close()
