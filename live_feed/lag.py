"""Consumer lag of the worker's groups, read from Kafka by the live feed every few seconds.

Lag is what a group has not committed yet: per partition, the topic's end offset minus
the group's committed offset (or the log start, where it never committed or committed
before what retention kept). It is read from Kafka itself, so it grows while the worker
is dead, which no counter the worker writes can show. A failed read is a state, not a
crash: the readings become ``None`` (the gauges go absent, ``/healthz`` says Kafka is
unreachable), it is logged once per change of state, and the next period tries again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Protocol

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from live_feed.metrics import GroupTopic, LiveMetrics
from stream.settings import Settings

log = logging.getLogger(__name__)

EVERY_S = 5.0
TIMEOUT_S = 5.0  # one read may take this long before it counts as failed


class OffsetReader(Protocol):
    """Where lag comes from (Kafka in production)."""

    async def lags(self, pairs: Sequence[GroupTopic]) -> dict[GroupTopic, int]:
        """Lag of each (group, topic) whose topic exists; raises when Kafka cannot answer."""
        ...

    async def close(self) -> None: ...


def worker_groups(settings: Settings) -> list[GroupTopic]:
    """The worker's consumer groups and the topics they read."""
    return [
        (settings.validate_group, settings.topic_raw),
        (settings.app_id, settings.topic_events),
    ]


class KafkaOffsets:
    """Committed against end offsets, through aiokafka's public admin and consumer API."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self._admin: AIOKafkaAdminClient | None = None
        self._consumer: AIOKafkaConsumer | None = None

    async def lags(self, pairs: Sequence[GroupTopic]) -> dict[GroupTopic, int]:
        admin, consumer = await self._open()
        partitions: dict[str, list[TopicPartition]] = {}
        for described in await admin.describe_topics(sorted({topic for _, topic in pairs})):
            if described["error_code"] == 0 and described["partitions"]:
                name = described["topic"]
                partitions[name] = [
                    TopicPartition(name, p["partition"]) for p in described["partitions"]
                ]
        every = [tp for tps in partitions.values() for tp in tps]
        if not every:
            return {}
        ends = await consumer.end_offsets(every)
        starts = await consumer.beginning_offsets(every)
        out: dict[GroupTopic, int] = {}
        for group, topic in pairs:
            if topic not in partitions:
                continue  # not created yet: nothing to lag behind
            committed = await admin.list_consumer_group_offsets(group, partitions=partitions[topic])
            lag = 0
            for tp in partitions[topic]:
                done = committed[tp].offset if tp in committed else -1
                lag += max(ends[tp] - max(done, starts[tp]), 0)
            out[(group, topic)] = lag
        return out

    async def close(self) -> None:
        admin, consumer, self._admin, self._consumer = self._admin, self._consumer, None, None
        if consumer is not None:
            await consumer.stop()
        if admin is not None:
            await admin.close()

    async def _open(self) -> tuple[AIOKafkaAdminClient, AIOKafkaConsumer]:
        if self._admin is None or self._consumer is None:
            await self.close()
            timeout_ms = int(TIMEOUT_S * 1000)
            admin = AIOKafkaAdminClient(
                bootstrap_servers=self.bootstrap, request_timeout_ms=timeout_ms
            )
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap,
                enable_auto_commit=False,
                request_timeout_ms=timeout_ms,
            )
            try:
                await admin.start()
                await consumer.start()
            except BaseException:
                with contextlib.suppress(Exception):
                    await consumer.stop()
                with contextlib.suppress(Exception):
                    await admin.close()
                raise
            self._admin, self._consumer = admin, consumer
        return self._admin, self._consumer


class LagWatch:
    """Reads the lag every ``every_s`` seconds in the background; keeps the last reading."""

    def __init__(
        self,
        reader: OffsetReader,
        pairs: Sequence[GroupTopic],
        metrics: LiveMetrics,
        *,
        every_s: float = EVERY_S,
    ) -> None:
        self.reader = reader
        self.pairs = list(pairs)
        self.metrics = metrics
        self.every_s = every_s
        self.readings: dict[GroupTopic, int] | None = None  # None: not read or unreadable
        self.kafka = "unknown"  # "ok" | "unreachable" once read
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start reading in the background (a failed read never ends it)."""
        self._task = asyncio.create_task(self._run(), name="live-feed-lag")

    async def stop(self) -> None:
        """Stop reading and close the Kafka clients."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):
            async with asyncio.timeout(TIMEOUT_S):
                await self.reader.close()

    async def read_once(self) -> None:
        """One read: update the readings, the gauges and the Kafka state."""
        try:
            async with asyncio.timeout(TIMEOUT_S * 2):
                readings = await self.reader.lags(self.pairs)
        except (KafkaError, OSError, TimeoutError) as exc:
            await self._fail(type(exc).__name__)
            return
        except Exception:
            # Not a Kafka outage: say so loudly, but keep the feed and the next reads going.
            log.exception("consumer lag: reading failed")
            await self._fail("error")
            return
        self.readings = readings
        self.metrics.record_lag(readings)
        if self.kafka != "ok":
            log.info("consumer lag: reading from Kafka")
            self.kafka = "ok"

    async def _run(self) -> None:
        while True:
            await self.read_once()
            await asyncio.sleep(self.every_s)

    async def _fail(self, why: str) -> None:
        self.readings = None
        self.metrics.record_lag(None)
        if self.kafka != "unreachable":
            log.warning("consumer lag: Kafka unreachable (%s); retrying", why)
            self.kafka = "unreachable"
        # Clients that failed may be half-started; the next read opens fresh ones.
        with contextlib.suppress(Exception):
            async with asyncio.timeout(TIMEOUT_S):
                await self.reader.close()
