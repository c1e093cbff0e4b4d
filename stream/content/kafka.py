"""The content messages on their way to Kafka: a queue drained by one producer.

``KafkaPublisher.send`` may be called from any thread (the service runs in worker
threads) and never blocks: messages wait in order in a queue that one task on the
publisher's event loop sends, retrying while Kafka is away. A message still queued when the
process stops is lost to Kafka but not to the store: the live feed sends the whole
catalogue again at its next start. aiokafka's exceptions stop here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from stream.content.messages import Message

log = logging.getLogger(__name__)

RETRY_S = 2.0
REQUEST_TIMEOUT_MS = 10_000
STOP_FLUSH_S = 5.0  # at shutdown, how long queued messages may still take


class KafkaPublisher:
    """Sends queued content messages to the broker at ``bootstrap``, in order, idempotently."""

    def __init__(self, bootstrap: str, *, retry_s: float = RETRY_S) -> None:
        self.bootstrap = bootstrap
        self.retry_s = retry_s
        self.sent = 0
        self.failures = 0
        self._queue: asyncio.Queue[Message] | None = None  # made on the loop that starts it
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        """Start the sending task (it connects when the first message arrives)."""
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._run(), name="content-publisher")

    def send(self, messages: Sequence[Message]) -> None:
        """Queue ``messages`` (from any thread); they are sent in order."""
        if self._loop is None or self._queue is None:
            raise RuntimeError("KafkaPublisher.send before start")
        for message in messages:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, message)

    async def drained(self) -> None:
        """Return once every message queued so far is sent."""
        if self._queue is not None:
            await self._queue.join()

    async def stop(self, flush_s: float = STOP_FLUSH_S) -> None:
        """Send what is queued for ``flush_s`` seconds more, then close the producer."""
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.drained(), flush_s)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = self._loop = self._queue = None
        await self._close()

    async def _run(self) -> None:
        assert self._queue is not None  # made by start
        while True:
            message = await self._queue.get()
            while not await self._deliver(message):
                await asyncio.sleep(self.retry_s)
            self._queue.task_done()

    async def _deliver(self, message: Message) -> bool:
        key = message.key.encode("utf-8")
        try:
            if self._producer is None:
                producer = AIOKafkaProducer(
                    bootstrap_servers=self.bootstrap,
                    acks="all",
                    enable_idempotence=True,
                    request_timeout_ms=REQUEST_TIMEOUT_MS,
                )
                try:
                    await producer.start()
                except BaseException:
                    await producer.stop()  # a failed start leaves connections to close
                    raise
                self._producer = producer
            await self._producer.send_and_wait(message.topic, message.value, key=key)
        except KafkaError as exc:
            self.failures += 1
            if self.failures == 1 or self.failures % 100 == 0:
                log.warning(
                    "content not yet sent to %s (%d tries): %s", message.topic, self.failures, exc
                )
            await self._close()
            return False
        self.sent += 1
        return True

    async def _close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(KafkaError):
                await producer.stop()


async def send_all(bootstrap: str, messages: Sequence[Message], timeout_s: float = 30.0) -> None:
    """Send ``messages`` once and wait for the broker (commands); ``TimeoutError`` if it cannot."""
    publisher = KafkaPublisher(bootstrap, retry_s=0.5)
    await publisher.start()
    try:
        publisher.send(messages)
        await asyncio.wait_for(publisher.drained(), timeout_s)
    finally:
        await publisher.stop(flush_s=0)
