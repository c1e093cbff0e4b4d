"""Where accepted requests go: the ``EventSink`` protocol and its Kafka implementation.

aiokafka's exceptions stop here: callers only ever see ``SinkUnavailable``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    InvalidProducerEpoch,
    InvalidProducerIdMapping,
    KafkaError,
    KafkaTimeoutError,
    OutOfOrderSequenceNumber,
    ProducerClosed,
    ProducerFenced,
    UnknownProducerId,
)

from stream.settings import Settings

log = logging.getLogger(__name__)

# Bounded so a request waiting on a dead broker fails in seconds, and the beacon retries.
REQUEST_TIMEOUT_S = 5.0
RETRY_MIN_S = 0.5
# Small: one connection attempt every 2 s costs nothing, and the collector takes events
# again within about this long of the broker answering.
RETRY_MAX_S = 2.0
# Failing this long without one success means the producer is not recovering by itself.
FAILING_FOR_S = 3.0

# After these the producer's idempotent session (producer id, epoch, per-partition sequence
# numbers) no longer matches the broker's and no send through it can succeed again. A
# graceful broker restart causes it: a batch that expires while the partition has no leader
# has used a sequence number that is never written, so every later batch is out of order.
SESSION_BROKEN: tuple[type[Exception], ...] = (
    OutOfOrderSequenceNumber,
    UnknownProducerId,
    InvalidProducerEpoch,
    InvalidProducerIdMapping,
    ProducerFenced,
    ProducerClosed,
)
# A send that waited the whole timeout without an answer is a persisting failure already.
NO_ANSWER: tuple[type[Exception], ...] = (TimeoutError, KafkaTimeoutError)


class SinkUnavailable(Exception):
    """The sink could not take a message now; the client should retry later."""


class EventSink(Protocol):
    """Takes one message per accepted request and returns once it is durably stored."""

    @property
    def ready(self) -> bool:
        """Whether the sink believes a send would succeed now (for health checks)."""
        ...

    async def start(self) -> None:
        """Begin connecting; must return even if the backend is down."""
        ...

    async def stop(self) -> None:
        """Flush what can be flushed and release connections."""
        ...

    async def send(self, key: bytes, value: bytes) -> None:
        """Store one message or raise ``SinkUnavailable``."""
        ...


class Producer(Protocol):
    """The part of ``AIOKafkaProducer`` the sink uses (a seam for tests)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send_and_wait(self, topic: str, value: bytes, key: bytes) -> Any: ...


def needs_new_producer(exc: BaseException, failing_for_s: float) -> bool:
    """Whether a failed send means the producer will not recover by itself."""
    return isinstance(exc, SESSION_BROKEN + NO_ANSWER) or failing_for_s >= FAILING_FOR_S


class KafkaSink:
    """An idempotent aiokafka producer, connected in the background and rebuilt when broken.

    While there is no usable producer (connecting, or rebuilding after a broken session)
    ``send`` refuses at once: the beacon retries, and the validate stage drops the copies
    of a message that reached Kafka after all by ``event_id``.
    """

    def __init__(
        self,
        settings: Settings,
        topic: str | None = None,
        request_timeout_s: float = REQUEST_TIMEOUT_S,
        new_producer: Callable[[], Producer] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._bootstrap = settings.kafka
        self._topic = topic or settings.topic_raw
        self._timeout_s = request_timeout_s
        self._new_producer = new_producer or self._idempotent_producer
        self._clock = clock
        self._producer: Producer | None = None
        self._connecting: asyncio.Task[None] | None = None
        self._retiring: set[asyncio.Task[None]] = set()
        self._healthy = False
        self._failing_since: float | None = None
        self._down_since: float | None = None
        self.rebuilds = 0

    @property
    def topic(self) -> str:
        """The topic every message goes to."""
        return self._topic

    @property
    def ready(self) -> bool:
        """Connected, and the last send (if any) succeeded."""
        return self._producer is not None and self._healthy

    async def start(self) -> None:
        """Start connecting in the background, so the app starts even with Kafka down."""
        if self._connecting is None:
            self._connecting = asyncio.create_task(self._connect(), name="kafka-sink-connect")

    def _idempotent_producer(self) -> Producer:
        producer: Producer = AIOKafkaProducer(
            bootstrap_servers=self._bootstrap,
            enable_idempotence=True,
            acks="all",
            request_timeout_ms=int(self._timeout_s * 1000),
        )
        return producer

    async def _connect(self) -> None:
        delay = RETRY_MIN_S
        while True:
            producer = self._new_producer()
            try:
                async with asyncio.timeout(self._timeout_s + 1.0):
                    await producer.start()
            except (KafkaError, OSError, TimeoutError) as exc:
                self._went_down(exc)
                with contextlib.suppress(KafkaError, OSError, TimeoutError):
                    async with asyncio.timeout(self._timeout_s + 1.0):
                        await producer.stop()
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            self._producer = producer
            self._healthy = True
            self._failing_since = None
            self._came_back()
            return

    async def send(self, key: bytes, value: bytes) -> None:
        """Produce one message and wait for the broker's acknowledgement."""
        producer = self._producer
        if producer is None:
            raise SinkUnavailable("not connected to Kafka")
        try:
            # On timeout the message may still be delivered later; the beacon then
            # retries and the validate agent drops the copy by event_id.
            async with asyncio.timeout(self._timeout_s + 1.0):
                await producer.send_and_wait(self._topic, value=value, key=key)
        except (KafkaError, TimeoutError) as exc:
            self._failed(producer, exc)
            raise SinkUnavailable(f"Kafka did not take the message: {type(exc).__name__}") from exc
        self._healthy = True
        self._failing_since = None

    def _failed(self, producer: Producer, exc: BaseException) -> None:
        self._healthy = False
        now = self._clock()
        if self._failing_since is None:
            self._failing_since = now
        if not needs_new_producer(exc, now - self._failing_since):
            return
        # The one rebuild per broken producer: every request that fails with it lands here,
        # but only the first still finds it current (no await between check and swap, so
        # this is atomic on the event loop); the rest see None or its successor.
        if self._producer is not producer:
            return
        self._producer = None
        self.rebuilds += 1
        self._went_down(exc)
        retiring = asyncio.create_task(self._retire(producer), name="kafka-sink-retire")
        self._retiring.add(retiring)
        retiring.add_done_callback(self._retiring.discard)
        self._connecting = asyncio.create_task(self._connect(), name="kafka-sink-reconnect")

    async def _retire(self, producer: Producer) -> None:
        # In the background and unbounded: stopping flushes what the old producer still
        # holds, which waits for the broker when it is down; nobody waits for the answer.
        with contextlib.suppress(KafkaError, OSError):
            await producer.stop()

    def _went_down(self, exc: BaseException) -> None:
        if self._down_since is None:
            self._down_since = self._clock()
            log.warning(
                "Kafka unavailable at %s (%s): refusing events with 503 until it is back",
                self._bootstrap,
                type(exc).__name__,
            )

    def _came_back(self) -> None:
        if self._down_since is None:
            log.info("Kafka producer connected to %s", self._bootstrap)
            return
        log.warning(
            "Kafka at %s is back after %.0f s: taking events again",
            self._bootstrap,
            self._clock() - self._down_since,
        )
        self._down_since = None

    async def stop(self) -> None:
        """Stop connecting, flush pending messages (bounded in time) and close."""
        if self._connecting is not None:
            self._connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connecting
            self._connecting = None
        producer, self._producer = self._producer, None
        self._healthy = False
        if producer is not None:
            with contextlib.suppress(KafkaError, TimeoutError):
                async with asyncio.timeout(self._timeout_s + 1.0):
                    await producer.stop()
        if self._retiring:
            _, late = await asyncio.wait(self._retiring, timeout=self._timeout_s)
            for task in late:
                task.cancel()
