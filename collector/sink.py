"""Where accepted requests go: the ``EventSink`` protocol and its Kafka implementation.

aiokafka's exceptions stop here: callers only ever see ``SinkUnavailable``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from stream.settings import Settings

log = logging.getLogger(__name__)

# Bounded so a request waiting on a dead broker fails in seconds, and the beacon retries.
REQUEST_TIMEOUT_S = 5.0
RETRY_MIN_S = 0.5
RETRY_MAX_S = 10.0


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


class KafkaSink:
    """An idempotent aiokafka producer that keeps trying to connect in the background."""

    def __init__(
        self,
        settings: Settings,
        topic: str | None = None,
        request_timeout_s: float = REQUEST_TIMEOUT_S,
    ) -> None:
        self._bootstrap = settings.kafka
        self._topic = topic or settings.topic_raw
        self._timeout_s = request_timeout_s
        self._producer: AIOKafkaProducer | None = None
        self._connecting: asyncio.Task[None] | None = None
        self._healthy = False

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

    async def _connect(self) -> None:
        delay = RETRY_MIN_S
        while True:
            producer = AIOKafkaProducer(
                bootstrap_servers=self._bootstrap,
                enable_idempotence=True,
                acks="all",
                request_timeout_ms=int(self._timeout_s * 1000),
            )
            try:
                await producer.start()
            except (KafkaError, OSError) as exc:
                log.warning("Kafka unavailable (%s); retrying in %.1fs", type(exc).__name__, delay)
                with contextlib.suppress(KafkaError, OSError):
                    await producer.stop()
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            self._producer = producer
            self._healthy = True
            log.info("Kafka producer connected to %s", self._bootstrap)
            return

    async def send(self, key: bytes, value: bytes) -> None:
        """Produce one message and wait for the broker's acknowledgement."""
        producer = self._producer
        if producer is None:
            raise SinkUnavailable("not connected to Kafka yet")
        try:
            # On timeout the message may still be delivered later; the beacon then
            # retries and the validate agent drops the copy by event_id.
            async with asyncio.timeout(self._timeout_s + 1.0):
                await producer.send_and_wait(self._topic, value=value, key=key)
        except (KafkaError, TimeoutError) as exc:
            self._healthy = False
            raise SinkUnavailable(f"Kafka did not take the message: {type(exc).__name__}") from exc
        self._healthy = True

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
