"""aggregate: dojo.events -> per-partition metric state -> live snapshots and a metric topic.

One factory serves every mergeable metric (traffic, forms, vitals, ...): the agent folds
bundles of session batches into a ``Rollup``, checkpoints it about once a second into a
Faust table's changelog (and Redis, for other workers' merges), and acknowledges messages
only after their checkpoint, so a restart neither loses nor double-counts a message. Before
each checkpoint Kafka holds the minutes that closed (``stream.runtime.minutes_out``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import faust
import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from stream.ingest.bundles import Decoded
from stream.runtime.budget import CHECKPOINT_MAX_GAP_S, Budget, snapshot_due
from stream.runtime.crew import Crew
from stream.runtime.minutes_out import MinuteSource, MinutesOut, Record, deliver
from stream.runtime.partials import other_partitions, share_again
from stream.runtime.progress import Progress
from stream.runtime.rollup import MetricState, Rollup
from stream.runtime.unacked import Unacked
from stream.sinks.prometheus import CHECKPOINT_SECONDS
from stream.sinks.publish import SnapshotPublisher

TAKE_MAX = 2000  # messages per take; a take is one pass over the batch and one state update
TAKE_WITHIN_S = 0.05  # a lone message waits at most this long before it is counted
TOPIC_EVERY_S = 5.0  # how often the snapshot also goes to the metric topic
CHECKPOINT_EVERY_S = 1.0
YIELD_EVERY_S = 0.01  # a fold hands the event loop over at least this often
MAX_CHECKPOINT_BYTES = 16 * 1024 * 1024


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class Metric:
    """One metric: its agent name, live channel, and how to make and load its state."""

    agent: str
    channel: str
    new: Callable[[], MetricState]
    load: Callable[[bytes], MetricState]
    shared: bool = False  # one state for all partitions (models that cannot merge)


class Aggregator:
    """The state behind one metric agent: its rollup, checkpoint table and snapshot cadence."""

    def __init__(
        self,
        app: faust.App,
        metric: Metric,
        out: faust.TopicT,
        publisher: SnapshotPublisher,
        redis: Redis,
        partitions: int,
        decoded: Decoded,
        budget: Budget,
        history: faust.TopicT | None = None,
    ) -> None:
        self.metric = metric
        self.history = history  # None: no minute records (a test that only folds)
        self.minutes_out = MinutesOut(metric.channel)
        self.decoded = decoded
        self.out = out
        self.publisher = publisher
        self.redis = redis
        self.partitions = partitions
        self.table = cast(
            "faust.Table[bytes, bytes]",
            app.Table(
                f"{metric.agent}-checkpoints",
                key_type=bytes,
                value_type=bytes,
                partitions=partitions,
                # A busy partition's traffic state can pass Kafka's default 1 MB message limit.
                extra_topic_configs={"max.message.bytes": str(MAX_CHECKPOINT_BYTES)},
            ),
        )
        # Checkpoints are opaque bytes; Faust would otherwise pick JSON for a non-record type.
        self.table.key_serializer = self.table.value_serializer = "raw"
        self.rollup: Rollup[Any] = Rollup(metric.new, metric.load, shared=metric.shared)
        # The publisher holds the deployment's Redis names: one source for every agent.
        self.keys = publisher.keys
        self.redis_key = self.keys.checkpoints(metric.agent)
        self.progress = Progress(redis, self.keys, metric.agent)
        self.budget = budget  # the worker's, shared by its agents (``Crew``)
        self.rejected = 0  # unreadable messages on the clean topic (only a rogue producer's)
        self.last_live = self.last_topic = 0.0
        self.min_gap_s = 0.25
        self.publish_cost = 0.0  # seconds the last snapshot took to build and send
        self.stream: faust.Stream[bytes] | None = None
        self.unacked: Unacked[faust.EventT[bytes]] = Unacked()
        self.checkpointing = asyncio.Lock()

    @staticmethod
    def key(partition: int) -> bytes:
        return b"p%d" % partition

    async def fold(self, taken: list[faust.EventT[bytes]], clock: Callable[[], int]) -> None:
        """Apply a take of messages to their partitions' states, each then pending its ack.

        A take of a backlog can hold seconds of work; every ``YIELD_EVERY_S`` the fold lets
        the other agents and the validate stage run, so none of them waits behind it.
        """
        self.unacked.begin_take()
        began = time.perf_counter()
        for event in taken:
            if not self.unacked.admits(event.message.partition):
                continue
            self.fold_one(event.message, clock())
            self.unacked.hold(event.message.partition, event)
            if time.perf_counter() - began >= YIELD_EVERY_S:
                await asyncio.sleep(0)
                began = time.perf_counter()

    def fold_one(self, msg: Any, at: int) -> None:
        """Apply one message (a bundle) to its partition's state."""
        rollup = self.rollup
        if not rollup.owns(msg.partition):
            slot = self.key(rollup.slot_of(msg.partition))
            rollup.restore(msg.partition, self.table.data.get(slot))
        batches = self.decoded.batches(msg.partition, msg.offset, msg.value)
        if batches is None:
            self.rejected += 1
            return
        if rollup.apply(msg.partition, msg.offset, batches, at):
            self.progress.add(1)

    async def checkpoint(self) -> None:
        """Write changed partitions to the changelog, then acknowledge what they hold."""
        # The fold loop and the quiet-time timer both come here: changelogs keep their order.
        async with self.checkpointing:
            await self._checkpoint()

    async def _checkpoint(self) -> None:
        if self.stream is None or not self.unacked:
            return
        # Encode and take the pending events in one step (no await in between): the
        # checkpoint then holds exactly the events about to be acknowledged.
        began = time.perf_counter()
        records: list[Record] = []

        def closing(slot: int, state: Any) -> None:
            if self.history is not None and isinstance(state, MinuteSource):
                records.extend(self.minutes_out.collect(slot, state))

        saved = self.rollup.checkpoints(now_ms(), closing)
        # Big states checkpoint less often (a crash replays more, still counting each once).
        self.rollup.checkpoint_every_s = self.budget.gap(
            time.perf_counter() - began, CHECKPOINT_EVERY_S, CHECKPOINT_MAX_GAP_S
        )
        pending = self.unacked.release()
        if self.history is not None and records:  # before the checkpoint that drops them
            await deliver(self.history, records)
        for partition, blob in saved:
            self.table.data[self.key(partition)] = blob
            self.table.send_changelog(partition, self.key(partition), blob, "raw", "raw")
        if saved:
            # Only other workers' snapshots read these; the changelog is the truth.
            with contextlib.suppress(RedisError, OSError):
                await self.redis.hset(self.redis_key, mapping={str(p): blob for p, blob in saved})
        # Acknowledge only now: Faust flushes the changelog before it commits offsets.
        for event in pending:
            await self.stream.ack(event)
        CHECKPOINT_SECONDS.labels(agent=self.metric.agent).observe(time.perf_counter() - began)

    async def share_again(self) -> None:
        """Put this worker's checkpoints back in Redis if Redis lost them."""
        data = self.table.data
        held = {slot: data[self.key(slot)] for slot in self.rollup.slots if self.key(slot) in data}
        await share_again(self.redis, self.redis_key, held)

    def revoke(self, partitions: set[int]) -> None:
        """Drop the state and the unacknowledged messages of partitions taken away.

        Those messages must never be acknowledged now: whoever owns the partition next
        (maybe this worker again) reads them again from the last commit, on top of the
        last checkpoint. Acknowledging them later would commit what no checkpoint holds.
        """
        self.rollup.revoke(partitions)
        self.unacked.revoke(partitions)
        self.minutes_out.forget(partitions)

    async def publish(self) -> None:
        """Publish the merged snapshot if it changed (or to let rolling views move).

        Called right after a take (so a change shows without waiting for a timer tick) and
        by a timer; either way at most ``max_hz`` times a second.
        """
        since = time.monotonic() - self.last_live
        gap = self.budget.gap(self.publish_cost, self.min_gap_s)  # big states publish less often
        if not snapshot_due(since, gap, self.rollup.changed):
            return
        self.rollup.changed = False
        began = time.perf_counter()
        others = await other_partitions(
            self.redis, self.redis_key, self.rollup, self.partitions, self.metric.load
        )
        merged = self.rollup.merged(others)
        if merged is not None:
            await self.emit(merged, now_ms())
        self.publish_cost = time.perf_counter() - began
        self.last_live = time.monotonic()

    async def after_fold(self) -> None:
        """Called after every take and once a second; a subclass sends what takes produced."""

    async def emit(self, merged: Any, at: int) -> None:
        """Publish a snapshot to the live channel and, now and then, to the metric topic."""
        data = merged.snapshot(at)
        await self.publisher.publish(self.metric.channel, data, at)
        if time.monotonic() - self.last_topic >= TOPIC_EVERY_S:
            self.last_topic = time.monotonic()
            record = {"ts": at, **data}
            windows = getattr(merged, "windows", None)  # per-minute rows, where the metric has them
            if windows is not None:
                record["windows"] = windows(at)
            await self.out.send(key=b"snapshot", value=orjson.dumps(record))


def aggregate(
    app: faust.App,
    metric: Metric,
    source: faust.TopicT,
    out: faust.TopicT,
    publisher: SnapshotPublisher,
    redis: Redis,
    *,
    crew: Crew,
    partitions: int,
    max_hz: float,
    decoded: Decoded | None = None,
    history: faust.TopicT | None = None,
) -> Aggregator:
    """Register a metric's agent, its checkpoint table and its snapshot timer."""
    agg = Aggregator(
        app, metric, out, publisher, redis, partitions, decoded or Decoded(), crew.budget,
        history,
    )  # fmt: skip
    register(app, agg, source, crew, max_hz=max_hz)
    return agg


def register(
    app: faust.App, agg: Aggregator, source: faust.TopicT, crew: Crew, *, max_hz: float
) -> None:
    """Attach an aggregator to the app: its agent, its timers and the worker's crew."""
    metric = agg.metric
    crew.join()
    rewinder = crew.rewinder
    topic = source.get_topic_name()
    agg.min_gap_s = 1.0 / max_hz

    async def fold(stream: faust.StreamT[bytes]) -> None:
        agg.stream = cast("faust.Stream[bytes]", stream)
        async for values in agg.stream.noack_take(TAKE_MAX, within=TAKE_WITHIN_S):
            # noack_take hands over the events themselves, so they can be acked later.
            taken = cast("list[faust.EventT[bytes]]", values)
            await agg.fold(taken, now_ms)
            rewinds, agg.rollup.rewinds = agg.rollup.rewinds, []
            for partition, offset in rewinds:
                await rewinder.request(app, topic, id(agg), partition, offset)
            rewinder.settle(id(agg), set(agg.rollup.rewinding))
            await agg.after_fold()
            await agg.publish()
            if agg.rollup.due():
                await agg.checkpoint()
            await agg.progress.flush()

    async def checkpoint_when_quiet() -> None:
        # With no new messages the loop above never runs; the last ones still get saved
        # (and sent: outputs paced to once a second must not wait for the next message).
        await agg.after_fold()
        if agg.rollup.due():
            await agg.checkpoint()
        await agg.share_again()
        await agg.progress.flush(force=True)

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def forget(sender: Any, revoked: set[Any], **_: Any) -> None:
        lost = {tp.partition for tp in revoked if tp.topic == topic}
        agg.revoke(lost)
        rewinder.forget(lost)

    app.timer(1.0 / max_hz, name=f"{metric.agent}-snapshot")(agg.publish)
    app.timer(CHECKPOINT_EVERY_S, name=f"{metric.agent}-checkpoint")(checkpoint_when_quiet)
    app.agent(source, name=metric.agent)(fold)
