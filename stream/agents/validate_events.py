"""validate_events: dojo.events.raw -> dojo.events (bundled session batches) + dojo.events.dlq.

Unlike the metric agents, this stage reads its topic with its own aiokafka consumer (group
``<app id>.validate``) inside the worker rather than through a Faust stream, for two
measured reasons:

- a raw message is one beacon request of about three events, so a stream's per-message
  cost (about 60 µs) was most of the stage's time, against a few µs for a ``getmany`` loop
  (``make bench``: ceiling and pipeline rows);
- it commits exactly the offsets whose outputs Kafka has acknowledged. Faust's commit
  bookkeeping can step over one in-flight message (faust-streaming issue #606); the crash
  test lost a raw request that way now and then.

Each take: screen every event, claim the survivors' ids in Redis in one call, bundle the
session batches per partition, send bundles and dead letters, wait until Kafka holds them
all, confirm the claims (Redis may have lost them meanwhile: ``stream.ingest.dedupe``), then
commit. A crash can make the next owner re-send a take: readers drop the copies
by source position, and the claims know their owner, so nothing is lost or counted twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import faust
import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

from stream.ingest.bundles import pack
from stream.ingest.contract import Limits
from stream.ingest.dedupe import Claims, ConfirmedClaims
from stream.ingest.lockstep import Ahead, in_step, received_at
from stream.ingest.screen import Position, assemble, screen
from stream.metrics.pipeline import PipelineStats
from stream.runtime.lighter import Lighter
from stream.runtime.minutes_out import TOPIC as MINUTES_TOPIC
from stream.runtime.minutes_out import minute_record
from stream.settings import Settings
from stream.sinks.producer import Deliverer, Output, idempotent_producer
from stream.sinks.prometheus import RAW_PARTITIONS

log = logging.getLogger(__name__)

TAKE_MAX = 500  # raw messages per take: one Redis round trip and one bundle per partition
TAKE_WITHIN_MS = 50  # latency bound: a lone message waits at most this long
RETRY_MAX_S = 5.0
FETCH_BYTES = 64 * 1024  # per partition and fetch: about 150 beacon requests
SETTLE_S = 0.2  # a take of the past waits this long at most for partitions it lacks
PAST_MS = 60_000  # a take whose newest message was received longer ago is of the past


class RawRecord(Protocol):
    """What a take needs of a consumed message (aiokafka's ``ConsumerRecord`` has it)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def value(self) -> bytes | None: ...


@dataclass
class Judged:
    """What one take sends on: bundles per partition and dead letters, already encoded."""

    bundles: list[tuple[int, bytes]] = field(default_factory=list)
    letters: list[tuple[bytes, bytes]] = field(default_factory=list)  # (key, value)


async def judge(
    records: Sequence[RawRecord],
    claims: Claims,
    limits: Limits,
    partitions: int,
    stats: PipelineStats | None = None,
    keep: tuple[str, ...] = (),
) -> Judged:
    """Validate one take of raw messages; every event ends in a bundle or a dead letter."""
    screened = [
        screen(r.value, Position(r.topic, r.partition, r.offset), limits, keep=keep)
        for r in records
    ]
    owned = iter(await claims.claim([claim for s in screened for claim in s.claims()]))
    out = Judged()
    batches: list[dict[str, Any]] = []
    for one in screened:
        clean, dead = assemble(one, [next(owned) for _ in one.accepted])
        batches += clean
        out.letters += [(d["session_id"].encode(), orjson.dumps(d)) for d in dead]
        if stats is not None:
            source = (one.position.partition, one.position.offset, one.received_at)
            stats.add(clean, dead, one.scrubbed, source)
    out.bundles = pack(batches, partitions)
    return out


class _Told(ConsumerRebalanceListener):  # type: ignore[misc]
    """Shows how many raw partitions this worker validates (``/metrics``) after each rebalance."""

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        """Nothing to do: a take commits before the next one begins."""

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        RAW_PARTITIONS.set(len(assigned))


@dataclass
class Validator:
    """The validate stage's loop: consume a take, judge it, send, wait for Kafka, commit."""

    settings: Settings
    claims: ConfirmedClaims
    stats: PipelineStats
    limits: Limits
    reached: dict[TopicPartition, int] = field(default_factory=dict)  # receive time per partition
    ahead: Ahead[TopicPartition, Any] = field(default_factory=Ahead)  # left by the last take
    # Whether this worker holds the learners: its raw partitions go to the others first.
    holds: Callable[[], bool] = field(default=lambda: False)

    @property
    def history_topic(self) -> str:
        """Where the stage's closed minutes go (part: the raw partition)."""
        return self.settings.topic(MINUTES_TOPIC)

    def attach(self, app: faust.App) -> None:
        """Run with ``app``'s worker; an unexpected error stops the worker, loudly."""

        async def validate_events() -> None:
            try:
                await self.run()
            except Exception as exc:
                log.exception("validate: stopped by an unexpected error")
                await app.crash(exc)
                raise

        app.task(validate_events)

    async def run(self) -> None:
        """Validate raw messages until cancelled (the worker stopping cancels it)."""
        s = self.settings
        self.lighter = Lighter(self.holds)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=s.kafka,
            group_id=s.validate_group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=TAKE_MAX,
            # Small fetches per partition keep the raw partitions in step: with aiokafka's
            # 1 MiB default a backlog is served one partition at a time, and events of one
            # clean partition then run minutes apart in event time (counted late).
            max_partition_fetch_bytes=FETCH_BYTES,
            # A worker that dies without leaving its group holds its partitions this long.
            session_timeout_ms=10_000,
            heartbeat_interval_ms=2_000,
            partition_assignment_strategy=(self.lighter.assignor,),
        )
        out = Deliverer(idempotent_producer(s.kafka), "validate")
        await out.start()
        try:
            await consumer.start()
            consumer.subscribe([s.topic_raw], listener=_Told())
            try:
                partitions = len(await out.producer.partitions_for(s.topic_events))
                await self._loop(consumer, out, partitions)
            finally:
                await consumer.stop()
        finally:
            await out.stop()

    async def _loop(self, consumer: AIOKafkaConsumer, out: Deliverer, partitions: int) -> None:
        retry_s = 0.1
        while True:
            if self.lighter.stale():
                # Holding the learners came or went: join again, to be given a fairer share.
                # Between takes nothing is pending (a take commits before the next one).
                self.ahead.drop(set(self.ahead.held))
                consumer.subscribe([self.settings.topic_raw], listener=_Told())
            fetched = await self._fetch(consumer)
            if not fetched and not self.ahead:
                await self.stats.flush()  # the last counts of a burst, once their gap passed
                continue
            # What the last take left goes first; the consumer is not sent back for it.
            fetched = self.ahead.join(fetched, await self._positions(consumer))
            # Partitions in step (``stream.ingest.lockstep``): what runs ahead waits in memory.
            step = in_step(fetched, await self._behind(consumer, fetched))
            self.reached.update(step.reached)
            self.ahead.keep(fetched, step.again, consumer.assignment())
            records, fetched = step.take, step.kept
            if not records:
                continue
            try:
                await self._take(consumer, out, records, fetched, partitions)
                retry_s = 0.1
            except KafkaError as exc:
                # Nothing was committed: read the take again once Kafka takes commits.
                log.warning("validate: Kafka refused a commit (%s); retrying", type(exc).__name__)
                self.ahead.drop(fetched.keys())  # the consumer reads them again after the take
                assigned = consumer.assignment()
                for tp, records in fetched.items():
                    if tp in assigned:  # a moved partition is read again by its new owner
                        consumer.seek(tp, records[0].offset)
                await asyncio.sleep(retry_s)
                retry_s = min(retry_s * 2, RETRY_MAX_S)

    async def _fetch(self, consumer: AIOKafkaConsumer) -> dict[TopicPartition, list[Any]]:
        """A take; when it is of the past, with what the partitions it lacks bring soon.

        A producer's batches of one moment reach the partitions milliseconds apart; live
        that is nothing, but in a backlog or a backfill milliseconds are minutes of event
        time: a partition that seems to have nothing may be about to get its older part.
        Partitions already holding a take's worth ahead are not read further meanwhile.
        """
        fetched: dict[TopicPartition, list[Any]] = {}
        room = [tp for tp in consumer.assignment() if self.ahead.size(tp) < TAKE_MAX]
        if not room and self.ahead:
            return fetched
        fetched = await consumer.getmany(*room, timeout_ms=TAKE_WITHIN_MS, max_records=TAKE_MAX)
        end = time.monotonic() + SETTLE_S
        while fetched and time.monotonic() < end:
            lacking = consumer.assignment() - fetched.keys() - self.ahead.held.keys()
            newest = max(received_at(records[-1].value) for records in fetched.values())
            if not lacking or newest > time.time() * 1000 - PAST_MS:
                break
            more = await consumer.getmany(*lacking, timeout_ms=TAKE_WITHIN_MS, max_records=TAKE_MAX)
            for tp, records in more.items():
                fetched[tp] = records
        return fetched

    async def _positions(self, consumer: AIOKafkaConsumer) -> dict[TopicPartition, int | None]:
        """The consumer's next offset of each partition with records held ahead."""
        out: dict[TopicPartition, int | None] = {}
        assigned = consumer.assignment()
        for tp in self.ahead.held.keys() & assigned:
            try:
                out[tp] = await consumer.position(tp)
            except IllegalStateError:  # moved to another worker meanwhile
                continue
        return out

    async def _behind(
        self, consumer: AIOKafkaConsumer, fetched: dict[TopicPartition, list[Any]]
    ) -> dict[TopicPartition, int]:
        """Partitions with more to read that ``fetched`` lacks, and the time each reached."""
        out = {}
        for tp in consumer.assignment() - fetched.keys():
            end = consumer.highwater(tp)  # None: not fetched yet
            try:
                if end is None or await consumer.position(tp) < end:
                    out[tp] = self.reached.get(tp, 0)
            except IllegalStateError:  # moved to another worker meanwhile
                continue
        return out

    async def _take(
        self,
        consumer: AIOKafkaConsumer,
        out: Deliverer,
        records: list[Any],
        fetched: dict[TopicPartition, list[Any]],
        partitions: int,
    ) -> None:
        s = self.settings
        judged = await judge(
            records, self.claims, self.limits, partitions, self.stats, s.query_allow
        )
        # Kafka holds every output before the input is committed; a send Kafka refused (a
        # broker restart breaks the producer's session) goes again through a new producer,
        # so the take is judged and counted once. Closed minutes of the counters go with it.
        minutes = [
            minute_record("pipeline", start, part, tally)
            for part, start, tally in self.stats.drain_minutes()
        ]
        await out.deliver(
            [Output(s.topic_dlq, value, key) for key, value in judged.letters]
            + [Output(s.topic_events, bundle, None, part) for part, bundle in judged.bundles]
            + [Output(self.history_topic, value, key) for key, value in minutes]
        )
        # Redis may have lost the take's claims meanwhile; now that Kafka holds the take, a
        # rebuild of the claims would find it, and this claims it again for whoever rebuilt.
        await self.claims.confirm()
        try:
            await consumer.commit({tp: batch[-1].offset + 1 for tp, batch in fetched.items()})
        except (CommitFailedError, IllegalStateError):
            # The partitions moved during the take; their new owner reads it again.
            log.warning("validate: a rebalance took this take's partitions; not committed")
        await self.stats.flush()
