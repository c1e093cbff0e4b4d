"""Deliver a set of messages to Kafka through an idempotent producer, rebuilt when broken.

An idempotent producer numbers its batches per partition, and the broker writes a batch only
when its number follows the last one written. A graceful broker restart breaks that: a batch
that expires while its partition has no leader has used a number that is never written, so
every later batch on that partition is refused (``OutOfOrderSequenceNumber``) for as long as
the producer lives. ``Deliverer.deliver`` therefore sends every message, waits for every
answer, and sends the refused ones again through a new producer (a new producer id, numbered
from zero), until Kafka holds them all. It rebuilds after any failure: once a batch failed
the numbering may be broken, and a new producer costs one round trip. A message Kafka
acknowledged is never sent again; one whose answer was lost with the connection after the
broker wrote it may be written twice, and readers drop such copies by their source
position, as after a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NamedTuple, Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, ProducerClosed

log = logging.getLogger(__name__)

# How long a batch may wait for a partition without a leader before it fails and is sent
# again by a new producer; aiokafka's default (40 s) only delays that.
SEND_TIMEOUT_S = 10.0
RETRY_MIN_S = 0.1
RETRY_MAX_S = 2.0


class Output(NamedTuple):
    """One message to deliver (``partition`` None: chosen by the key)."""

    topic: str
    value: bytes
    key: bytes | None = None
    partition: int | None = None


class Producer(Protocol):
    """The part of ``AIOKafkaProducer`` a deliverer uses (a seam for tests)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def partitions_for(self, topic: str) -> Any: ...

    async def send(
        self, topic: str, value: bytes, key: bytes | None = None, partition: int | None = None
    ) -> Awaitable[Any]: ...


def idempotent_producer(bootstrap: str) -> Callable[[], Producer]:
    """A factory of acks=all idempotent producers for ``bootstrap``."""

    def new() -> Producer:
        producer: Producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            acks="all",
            enable_idempotence=True,
            request_timeout_ms=int(SEND_TIMEOUT_S * 1000),
        )
        return producer

    return new


class Deliverer:
    """Sends messages until Kafka holds each exactly once, rebuilding the producer as needed."""

    def __init__(
        self,
        new_producer: Callable[[], Producer],
        name: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._new_producer = new_producer
        self._name = name
        self._clock = clock
        self._producer: Producer | None = None
        self._retiring: set[asyncio.Task[None]] = set()
        self._down_since: float | None = None
        self.rebuilds = 0

    async def start(self) -> None:
        """Start the first producer (raises the producer's error when Kafka is away)."""
        producer = self._new_producer()
        await producer.start()
        self._producer = producer

    async def stop(self) -> None:
        """Stop the producer, flushing what it holds; let retired ones finish for a while."""
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()
        if self._retiring:
            _, late = await asyncio.wait(self._retiring, timeout=SEND_TIMEOUT_S)
            for task in late:
                task.cancel()

    @property
    def producer(self) -> Producer:
        """The current producer (for sends that need no delivery guarantee)."""
        if self._producer is None:
            raise RuntimeError("the deliverer is not started")
        return self._producer

    async def deliver(self, outputs: Sequence[Output]) -> None:
        """Return once Kafka has acknowledged every output; none acknowledged is sent again."""
        pending = list(outputs)
        delay = RETRY_MIN_S
        while pending:
            answers = await self._send(pending)
            failed = [(o, e) for o, e in zip(pending, answers, strict=True) if e is not None]
            if not failed:
                break
            self._went_down(failed[0][1])
            # Every send of this round has its answer, so the old producer holds none of
            # ours: the failed ones can go again through a new one without being doubled.
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_S)
            await self._rebuild()
            pending = [o for o, _ in failed]
        self._came_back()

    async def _send(self, outputs: Sequence[Output]) -> list[BaseException | None]:
        producer = self._producer
        if producer is None:
            return [ProducerClosed()] * len(outputs)
        answers: list[BaseException | None] = [None] * len(outputs)
        waiting: list[tuple[int, Awaitable[Any]]] = []
        for n, out in enumerate(outputs):
            try:
                waiting.append(
                    (n, await producer.send(out.topic, out.value, out.key, out.partition))
                )
            except KafkaError as exc:
                answers[n] = exc
        results = await asyncio.gather(*(w for _, w in waiting), return_exceptions=True)
        for (n, _), result in zip(waiting, results, strict=True):
            if isinstance(result, BaseException):
                if not isinstance(result, KafkaError | OSError | TimeoutError):
                    raise result  # a programming error is not Kafka refusing
                answers[n] = result
        return answers

    async def _rebuild(self) -> None:
        old, self._producer = self._producer, None
        if old is not None:
            self.rebuilds += 1
            retiring = asyncio.create_task(self._retire(old), name=f"{self._name}-retire")
            self._retiring.add(retiring)
            retiring.add_done_callback(self._retiring.discard)
        producer = self._new_producer()
        try:
            async with asyncio.timeout(SEND_TIMEOUT_S + 1.0):
                await producer.start()
        except (KafkaError, OSError, TimeoutError):
            # Kafka is still away: the next round finds no producer and rebuilds again.
            with contextlib.suppress(KafkaError, OSError, TimeoutError):
                async with asyncio.timeout(SEND_TIMEOUT_S + 1.0):
                    await producer.stop()
            return
        self._producer = producer

    async def _retire(self, producer: Producer) -> None:
        # In the background: stopping flushes what it still holds, which waits for the broker.
        with contextlib.suppress(KafkaError, OSError):
            await producer.stop()

    def _went_down(self, exc: BaseException) -> None:
        if self._down_since is None:
            self._down_since = self._clock()
            log.warning(
                "%s: Kafka refused a send (%s); sending again through a new producer",
                self._name,
                type(exc).__name__,
            )

    def _came_back(self) -> None:
        if self._down_since is not None:
            log.warning(
                "%s: Kafka takes sends again after %.0f s",
                self._name,
                self._clock() - self._down_since,
            )
            self._down_since = None
