"""Reading a topic once, between offsets fixed at the start, with a progress bar on stderr.

aiokafka's errors stop here: callers see ``DlqError`` with one line to print.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from tqdm import tqdm

from dojo_pulse.dlq.letters import Position
from stream.settings import Settings

PROGRESS_FROM: Final = 20_000  # messages: shorter reads finish before a bar would help
STALL_S: Final = 30.0  # no message for this long while some are still due: Kafka is away
# Dead letters are written after their request arrived, by a worker whose clock may differ
# from the collector's: a time seek starts this much earlier, and received_at decides.
SEEK_MARGIN_MS: Final = 10 * 60_000


class DlqError(RuntimeError):
    """Kafka could not be read or written; the message says what to do."""


@dataclass(frozen=True, slots=True)
class Seen:
    """One message read: where it is, its key and its value."""

    at: Position
    key: bytes | None
    value: bytes | None


Visit = Callable[[Seen], None]


@contextlib.contextmanager
def kafka_errors(settings: Settings) -> Iterator[None]:
    """Turn any Kafka failure inside into ``DlqError`` with the one line to print."""
    try:
        yield
    except KafkaError as exc:
        raise DlqError(
            f"Kafka at {settings.kafka} cannot be reached ({type(exc).__name__}): "
            "start it (dojo-pulse infra up) or set DOJO_KAFKA"
        ) from None


@contextlib.asynccontextmanager
async def consumer_of(settings: Settings) -> AsyncIterator[AIOKafkaConsumer]:
    """A started consumer of no group (it commits nothing), for assigned partitions."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka,
        enable_auto_commit=False,
        request_timeout_ms=10_000,
        # The DLQ's records are small; larger fetches read a backlog in fewer round trips.
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    try:
        with kafka_errors(settings):
            await consumer.start()
            yield consumer
    finally:
        await consumer.stop()


async def partitions_of(settings: Settings, topic: str) -> list[TopicPartition] | None:
    """The partitions of ``topic``, or None when the broker has no such topic."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka, request_timeout_ms=10_000)
    try:
        await admin.start()
        found: list[dict[str, Any]] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    if not found or found[0].get("error_code") or not found[0].get("partitions"):
        return None
    return [TopicPartition(topic, p["partition"]) for p in sorted(
        found[0]["partitions"], key=lambda p: p["partition"])]  # fmt: skip


async def end_offsets(settings: Settings, topic: str) -> dict[int, int]:
    """The next offset of each partition of ``topic`` ({} when it does not exist)."""
    async with consumer_of(settings) as consumer:
        tps = await partitions_of(settings, topic)
        ends = await consumer.end_offsets(tps) if tps else {}
        return {tp.partition: offset for tp, offset in ends.items()}


async def scan(
    settings: Settings,
    topic: str,
    visit: Visit,
    *,
    since_ms: int | None = None,
    starts: dict[int, int] | None = None,
    progress: bool = True,
) -> dict[int, int] | None:
    """Call ``visit`` on every message of ``topic`` up to the end offsets of now.

    Reads from ``starts`` (partition -> offset), else from the first message written at or
    after ``since_ms`` (less ``SEEK_MARGIN_MS``), else from the beginning. Returns the end
    offsets it read up to, or None when the topic does not exist.
    """
    async with consumer_of(settings) as consumer:
        tps = await partitions_of(settings, topic)
        if tps is None:
            return None
        ends = await consumer.end_offsets(tps)
        first = await _first_offsets(consumer, tps, since_ms, starts)
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, min(first[tp], ends[tp]))
        total = sum(max(ends[tp] - first[tp], 0) for tp in tps)
        bar = tqdm(
            total=total, unit="msg", desc=f"reading {topic}", file=sys.stderr, leave=False,
            disable=True if not progress or total < PROGRESS_FROM else None,  # None: a tty only
        )  # fmt: skip
        with bar:
            await _read(consumer, {tp: ends[tp] for tp in tps if first[tp] < ends[tp]}, visit, bar)
        return {tp.partition: ends[tp] for tp in tps}


async def _first_offsets(
    consumer: AIOKafkaConsumer,
    tps: list[TopicPartition],
    since_ms: int | None,
    starts: dict[int, int] | None,
) -> dict[TopicPartition, int]:
    if starts is not None:
        return {tp: starts.get(tp.partition, 0) for tp in tps}
    beginnings: dict[TopicPartition, int] = await consumer.beginning_offsets(tps)
    if since_ms is None:
        return beginnings
    ends = await consumer.end_offsets(tps)
    found = await consumer.offsets_for_times({tp: max(since_ms - SEEK_MARGIN_MS, 0) for tp in tps})
    # None: nothing was written since then on that partition.
    return {tp: ends[tp] if found[tp] is None else found[tp].offset for tp in tps}


async def _read(
    consumer: AIOKafkaConsumer,
    due: dict[TopicPartition, int],
    visit: Visit,
    bar: tqdm[Any],
) -> None:
    stalled_at = time.monotonic() + STALL_S
    while due:
        fetched = await consumer.getmany(*due, timeout_ms=500, max_records=5_000)
        for tp, records in fetched.items():
            end = due.get(tp, 0)
            for record in records:
                if record.offset < end:  # later messages arrived after the start: not ours
                    visit(Seen(Position(tp.topic, tp.partition, record.offset), record.key,
                               record.value))  # fmt: skip
            bar.update(sum(1 for r in records if r.offset < end))
        # Compaction and transaction markers leave gaps: the position, not a count, says done.
        for tp in list(due):
            if await consumer.position(tp) >= due[tp]:
                del due[tp]
                consumer.pause(tp)
        if fetched:
            stalled_at = time.monotonic() + STALL_S
        elif time.monotonic() > stalled_at:
            raise DlqError(f"reading {next(iter(due)).topic} stalled for {STALL_S:.0f} s")
