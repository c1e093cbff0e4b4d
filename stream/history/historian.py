"""The historian: reads ``history.minutes`` in its own consumer group and keeps it in the store.

One worker at a time holds the topic (group ``<app id>.history``, the sole-owner assignor
of ``stream.runtime.sole_owner``: the group coordinator moves it to another worker when the
holder leaves or dies). The holder decodes each record (``records``; a bad one is counted
by reason and skipped), groups rows per channel and minute (``batch``), writes about once a
second in a worker thread and only then commits, so a crash reads again what was not
written and the store's upserts make the second write a no-op. About once an hour it
prunes the store by retention. Its numbers are on the worker's ``/metrics``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable

import sqlalchemy
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import IllegalStateError, KafkaError
from aiokafka.structs import ConsumerRecord

from stream.history.batch import Batch, Key
from stream.history.records import RecordError, decode
from stream.runtime.progress import Progress
from stream.runtime.sole_owner import sole_owner
from stream.sinks import prometheus as metrics
from stream.store.history import MinuteRow, Retention, prune, write_minutes

log = logging.getLogger(__name__)

AGENT = "keep_history"
TAKE_MAX = 2000
TAKE_WITHIN_MS = 200
WRITE_EVERY_S = 1.0
PRUNE_EVERY_S = 3600.0
RETRY_MAX_S = 30.0  # a store that is away is tried again at most this far apart
SESSION_TIMEOUT_S = 10.0  # as the Faust app's group: a dead holder is replaced this soon


class Historian(ConsumerRebalanceListener):  # type: ignore[misc]
    """One worker's bid for the topic: batches, writes, commits and prunes while it holds it."""

    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        topic: str,
        engine: sqlalchemy.Engine,
        retention: Retention,
        progress: Progress,
        batch: Callable[[], Batch] = Batch,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.consumer = consumer
        self.topic = topic
        self.engine = engine
        self.retention = retention
        self.progress = progress
        self.new_batch = batch
        self.batch = batch()
        self.clock = clock
        self.held = False  # held every partition in this generation (its join metadata)
        self.holding = False  # reading now: cleared first thing on a revoke
        self.written_at = self.retry_at = self.pruned_at = float("-inf")
        self.retry_s = 0.0
        self.committed: dict[int, int] = {}
        self.newest_ms = 0  # the newest minute written, for /metrics
        self.skipped: Counter[str] = Counter()

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        """Write and commit what waits, so the next holder starts where this one stopped."""
        if self.holding:
            self.holding = False
            await self.write(self.batch.due(float("inf")))

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        """Start afresh from the committed offsets (the consumer seeks to them)."""
        held_before, self.held = self.held, bool(assigned)
        self.batch, self.committed = self.new_batch(), {}
        self.holding = bool(assigned)
        if self.holding and not held_before:
            self.progress.folded_at = self.progress.wall()  # idle since the takeover
            log.warning("keep_history: this worker keeps the history now")
        elif held_before and not assigned:
            log.warning("keep_history: another worker keeps the history now")

    async def run(self) -> None:
        """Read, write, commit and prune until cancelled."""
        while True:
            fetched = await self.consumer.getmany(timeout_ms=TAKE_WITHIN_MS, max_records=TAKE_MAX)
            if not self.holding:
                continue
            records = [record for batch in fetched.values() for record in batch]
            self.read(records)
            if not records:
                self.progress.folded_at = self.progress.wall()  # caught up: not behind
            now = self.clock()
            backlog = self.batch.rows >= self.batch.max_rows
            if now >= self.retry_at and (backlog or now - self.written_at >= WRITE_EVERY_S):
                self.written_at = now
                await self.write(self.batch.due(now))
            if now - self.pruned_at >= PRUNE_EVERY_S:
                self.pruned_at = now
                await self.prune()
            self.watch()
            await self.progress.flush()

    def read(self, records: list[ConsumerRecord]) -> None:
        """Decode and hold each record; count and skip what is not a closed minute."""
        now = self.clock()
        for record in records:
            try:
                row = decode(record.value)
            except RecordError as exc:
                self.skipped[str(exc)] += 1
                metrics.HISTORY_SKIPPED.labels(reason=str(exc)).inc()
                self.batch.skip(record.partition, record.offset)
                continue
            self.batch.add(row, record.partition, record.offset, now)
        self.progress.add(len(records))

    async def write(self, keys: list[Key]) -> None:
        """Write the rows of ``keys`` in a thread, then commit what is safe to commit."""
        if self.skipped:
            said = ", ".join(f"{reason}: {n}" for reason, n in sorted(self.skipped.items()))
            log.warning("keep_history: skipped records that are not closed minutes (%s)", said)
            self.skipped.clear()
        batch = self.batch  # a rebalance during the write below starts a new one
        if keys:
            rows = batch.take(keys)
            began = time.perf_counter()
            try:
                written = await asyncio.to_thread(self.store, rows)
            except sqlalchemy.exc.OperationalError as exc:
                self.retry_s = min(max(self.retry_s * 2, 1.0), RETRY_MAX_S)
                self.retry_at = self.clock() + self.retry_s
                log.warning(
                    "keep_history: the store did not take %d rows (%s); again in %.0f s",
                    len(rows), type(exc.orig).__name__, self.retry_s,
                )  # fmt: skip
                return
            self.retry_s = 0.0
            metrics.HISTORY_WRITE_SECONDS.observe(time.perf_counter() - began)
            metrics.HISTORY_ROWS.inc(written)
            self.newest_ms = max(self.newest_ms, *(row.start for row in rows))
            metrics.HISTORY_NEWEST.set(self.newest_ms / 1000)
            batch.settle(keys)
        if batch is self.batch:  # else the new holder reads from the last commit again
            await self.commit()

    def store(self, rows: list[MinuteRow]) -> int:
        """Write ``rows`` in one transaction; if the store refuses one, the others alone."""
        try:
            return write_minutes(self.engine, rows, retention=self.retention)
        except ValueError:
            written = 0
            for row in rows:
                try:
                    written += write_minutes(self.engine, [row], retention=self.retention)
                except ValueError:
                    self.skipped["refused"] += 1
                    metrics.HISTORY_SKIPPED.labels(reason="refused").inc()
            return written

    async def commit(self) -> None:
        """Commit the offsets before which everything is written (a failed commit waits)."""
        safe = self.batch.commit_offsets()
        if safe == self.committed:
            return
        try:
            await self.consumer.commit({TopicPartition(self.topic, p): o for p, o in safe.items()})
        except (IllegalStateError, KafkaError):
            log.warning("keep_history: offsets not committed (a rebalance is on)")
            return
        self.committed = safe

    async def prune(self) -> None:
        """Delete what retention no longer keeps (a store that is away is tried next hour)."""
        try:
            deleted = await asyncio.to_thread(
                prune, self.engine, int(time.time() * 1000), self.retention
            )
        except sqlalchemy.exc.OperationalError as exc:
            log.warning("keep_history: pruning failed (%s)", type(exc.orig).__name__)
            return
        for size, rows in deleted.items():
            metrics.HISTORY_PRUNED.labels(size=size).inc(rows)
        if any(deleted.values()):
            log.info("keep_history: pruned %s", deleted)

    def watch(self) -> None:
        """Records not yet written, on the worker's /metrics (the historian's lag)."""
        safe = self.batch.commit_offsets()
        behind = 0
        for tp in self.consumer.assignment():
            end = self.consumer.highwater(tp)
            if end is not None and tp.partition in safe:
                behind += max(0, end - safe[tp.partition])
        metrics.HISTORY_BEHIND.set(behind)


async def keep(
    kafka: str, group: str, topic: str, make: Callable[[AIOKafkaConsumer], Historian]
) -> None:
    """Join ``group`` on ``topic`` and run the historian ``make`` builds, until cancelled."""
    historian: Historian | None = None
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=TAKE_MAX,
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=32 * 1024 * 1024,  # a record may be up to 16 MiB
        partition_assignment_strategy=(
            sole_owner(lambda: historian is not None and historian.held),
        ),
        session_timeout_ms=int(SESSION_TIMEOUT_S * 1000),
        heartbeat_interval_ms=int(SESSION_TIMEOUT_S * 1000) // 5,
    )
    await consumer.start()
    try:
        historian = make(consumer)
        consumer.subscribe([topic], listener=historian)
        await historian.run()
    finally:
        if historian is not None and historian.holding:
            historian.holding = False
            await historian.write(historian.batch.due(float("inf")))
        await consumer.stop()
