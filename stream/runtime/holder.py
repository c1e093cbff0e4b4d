"""Hold one state that cannot merge over EVERY partition of a topic, in one worker at a time.

Every worker runs a ``Holder``; all join one consumer group whose assignor gives every
partition to one member (``stream.runtime.sole_owner``), so Kafka's group coordinator
decides who holds the state and hands it to another worker when the holder leaves or dies.
On assignment the holder restores the newest checkpoint (``stream.runtime.checkpoint_log``)
and seeks each partition to just past what it holds; it folds, and about once a second
checkpoints, then commits (the commit only shows progress: the checkpoint's offsets are
the truth). When its partitions are revoked it checkpoints before the group moves on, so
the next holder starts where it stopped. A holder killed outright leaves its last checkpoint:
the next one reads again what came after it, and the state skips nothing and nothing twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import IllegalStateError, KafkaError

from stream.ingest.bundles import unpack
from stream.runtime.aggregate import now_ms
from stream.runtime.budget import CHECKPOINT_MAX_GAP_S, Budget
from stream.runtime.checkpoint_log import CheckpointLog
from stream.runtime.progress import Progress
from stream.runtime.rollup import MetricState, Rollup
from stream.runtime.sole_owner import sole_owner
from stream.sinks.prometheus import HOLDS_LEARNERS
from stream.topics import MAX_CHECKPOINT_BYTES

log = logging.getLogger(__name__)

TAKE_MAX = 2000
TAKE_WITHIN_MS = 50
CHECKPOINT_EVERY_S = 1.0
YIELD_EVERY_S = 0.01


class Held:
    """Whether this worker holds the state now; other stages of the worker read it."""

    def __init__(self) -> None:
        self.now = False

    def __call__(self) -> bool:
        return self.now


class Outputs(Protocol):
    """What the agent on top does with the held state."""

    async def after_fold(self, state: Any) -> None: ...
    async def emit(self, state: Any, at: int) -> bool: ...  # True: the state changed


class Holder(ConsumerRebalanceListener):  # type: ignore[misc]
    """One worker's bid for the state: folds every partition while it holds them."""

    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        topic: str,
        checkpoints: CheckpointLog,
        new: Callable[[], MetricState],
        load: Callable[[bytes], MetricState],
        outputs: Outputs,
        progress: Progress,
        publish_every_s: float = 1.0,
        held: Held | None = None,
    ) -> None:
        self.consumer = consumer
        self.topic = topic
        self.checkpoints = checkpoints
        self.new, self.load = new, load
        self.outputs = outputs
        self.progress = progress
        self.publish_every_s = publish_every_s
        self.rollup: Rollup[Any] = Rollup(new, load, shared=True)
        self.budget = Budget()
        self.held = False  # holds every partition in this generation (its join metadata)
        self.told = held or Held()  # the same, for the worker's other stages
        self.holding = False  # folding now: cleared first thing on a revoke
        self.rejected = 0
        self.last_published = 0.0

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        """Checkpoint before the group moves on; the state stays in memory in case it returns.

        Every rebalance revokes everything (workers joining too), and the holder mostly gets
        it all back: only ``on_partitions_assigned`` knows whether the state moved.
        """
        if not self.holding:
            return
        self.holding = False
        await self.checkpoint()

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        """Restore (unless the state is still here) and seek past what the state holds."""
        held_before, self.held = self.held, bool(assigned)
        self.told.now = self.held
        HOLDS_LEARNERS.set(int(self.held))
        if not assigned:
            self.rollup = Rollup(self.new, self.load, shared=True)  # another holds it now
            if held_before:
                log.warning("learn_online: another worker holds the learner now")
            return
        if not self.rollup.slots:
            self.rollup.restore(0, await self.checkpoints.last())
        offsets = self.rollup.slots[0].offsets
        firsts = await self.consumer.beginning_offsets(assigned)
        for tp in assigned:
            # Past the checkpoint; or the oldest message kept, when retention took the rest.
            start = max(offsets.get(tp.partition, -1) + 1, firsts[tp])
            offsets[tp.partition] = start - 1
            self.consumer.seek(tp, start)
        self.holding = True
        if not held_before:
            self.progress.folded_at = self.progress.wall()  # idle since the takeover
            # At the default level: where the models live matters, and they move rarely.
            log.warning(
                "learn_online: this worker holds the learner now (%d partitions, from offsets %s)",
                len(assigned),
                dict(sorted(offsets.items())),
            )

    async def run(self) -> None:
        """Fold, emit and checkpoint until cancelled."""
        while True:
            fetched = await self.consumer.getmany(timeout_ms=TAKE_WITHIN_MS, max_records=TAKE_MAX)
            await self.fold([r for records in fetched.values() for r in records])
            if self.holding:
                state = self.rollup.shared_state()
                await self.outputs.after_fold(state)
                await self.publish(state)
                if self.rollup.due():
                    await self.checkpoint()
                # Only the holder checks in: a standby's stale "last folded" would hide it.
                await self.progress.flush()

    async def fold(self, records: list[Any]) -> None:
        """Apply records in order; stop at once if the partitions were taken away meanwhile."""
        began = time.perf_counter()
        for record in records:
            if not self.holding:
                return
            batches = unpack(record.value)
            if batches is None:
                self.rejected += 1  # only a rogue producer writes these; its offset still counts
            if self.rollup.apply(record.partition, record.offset, batches or [], now_ms()):
                self.progress.add(1)
            if time.perf_counter() - began >= YIELD_EVERY_S:
                await asyncio.sleep(0)
                began = time.perf_counter()
        # Reading on from where the state stopped leaves no gap; should one appear, seek back.
        for partition, offset in self.rollup.rewinds:
            self.consumer.seek(TopicPartition(self.topic, partition), offset)
        self.rollup.rewinds = []

    async def publish(self, state: Any) -> None:
        """Emit the state's outputs about once per ``publish_every_s``."""
        since = time.monotonic() - self.last_published
        if since < self.publish_every_s:
            return
        self.last_published = time.monotonic()
        if await self.outputs.emit(state, now_ms()):
            self.rollup.mark_dirty(0)

    async def checkpoint(self) -> None:
        """Write the state's checkpoint, then commit the offsets it holds."""
        began = time.perf_counter()
        saved = self.rollup.checkpoints(now_ms())
        self.rollup.checkpoint_every_s = self.budget.gap(
            time.perf_counter() - began, CHECKPOINT_EVERY_S, CHECKPOINT_MAX_GAP_S
        )
        if not saved:
            return
        try:
            await self.checkpoints.write(saved[0][1])
        except KafkaError as exc:
            self.rollup.mark_dirty(0)  # try again at the next one
            log.warning("learn_online: checkpoint not written (%s)", type(exc).__name__)
            return
        offsets = self.rollup.slots[0].offsets
        try:
            await self.consumer.commit(
                {TopicPartition(self.topic, p): o + 1 for p, o in offsets.items() if o >= 0}
            )
        except (IllegalStateError, KafkaError):
            log.warning("learn_online: offsets not committed (a rebalance is on)")


async def hold(
    kafka: str,
    group: str,
    topic: str,
    session_timeout_s: float,
    make: Callable[[AIOKafkaConsumer, AIOKafkaProducer], Holder],
) -> None:
    """Join ``group`` on ``topic`` and run the holder ``make`` builds, until cancelled."""
    holder: Holder | None = None
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=TAKE_MAX,
        partition_assignment_strategy=(sole_owner(lambda: holder is not None and holder.held),),
        session_timeout_ms=int(session_timeout_s * 1000),
        heartbeat_interval_ms=max(int(session_timeout_s * 1000) // 5, 500),
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka, acks="all", enable_idempotence=True,
        max_request_size=MAX_CHECKPOINT_BYTES,
    )  # fmt: skip
    await producer.start()
    try:
        await consumer.start()
        try:
            holder = make(consumer, producer)
            consumer.subscribe([topic], listener=holder)
            await holder.run()
        finally:
            if holder is not None and holder.holding:
                holder.holding = False
                await holder.checkpoint()
            await consumer.stop()
    finally:
        await producer.stop()
