"""The live feed's content service and the loop beside it.

At start the desk sends the whole live catalogue to ``dojo.content`` again (repairing any
send lost to a Kafka outage: the topic is compacted, so a repeat changes nothing), then
runs the scheduled publishes and unpublishes that are due, every ``every_s`` seconds.
Several live feeds may run the loop at once: each schedule is claimed by one of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import sqlalchemy

from live_feed.history import HistoryStore
from stream.content import ContentService
from stream.content.kafka import KafkaPublisher
from stream.content.messages import Publisher
from stream.settings import Settings
from stream.store import StoreError

log = logging.getLogger(__name__)

SCHEDULE_EVERY_S = 15.0  # a scheduled publish goes live within this long of its time


class ContentDesk:
    """The live feed's content service: the store, the publisher and the schedule runner."""

    def __init__(
        self,
        settings: Settings,
        store: HistoryStore,
        publisher: Publisher | None = None,
        every_s: float = SCHEDULE_EVERY_S,
    ) -> None:
        self.settings = settings
        self.store = store
        # Kafka unless the caller hands another publisher (tests keep messages in an Outbox).
        self.kafka = KafkaPublisher(settings.kafka) if publisher is None else None
        self.publisher: Publisher = self.kafka or publisher  # type: ignore[assignment]
        self.every_s = every_s
        self.republished = False
        self._stop: asyncio.Event | None = None  # made on the loop that starts the desk
        self._task: asyncio.Task[None] | None = None

    async def service(self) -> ContentService:
        """The service on the opened store (``StoreError`` while it cannot be opened)."""
        engine = await self.store.open()
        return ContentService(
            engine, self.publisher, settings=self.settings,
            keep_revisions=self.settings.content_keep_revisions,
        )  # fmt: skip

    async def start(self) -> None:
        """Start the publisher and the loop that republishes once and runs schedules.

        One desk runs one loop: a second start before ``stop`` is refused, since the two
        runs could be on different event loops and would share the stop signal.
        """
        if self._task is not None:
            raise RuntimeError("the content desk is already running; stop it first")
        if self.kafka is not None:
            await self.kafka.start()
        self._stop, self.republished = asyncio.Event(), False
        self._task = asyncio.create_task(self._run(), name="content-desk")

    async def stop(self) -> None:
        """Finish the loop's current step, then stop the publisher."""
        if self._stop is not None and self._task is not None:
            self._stop.set()
            await self._task
            self._task = None
        if self.kafka is not None:
            await self.kafka.stop()

    async def _run(self) -> None:
        assert self._stop is not None  # made by start
        while not self._stop.is_set():
            try:
                service = await self.service()
                if not self.republished:
                    sent = await asyncio.to_thread(service.republish)
                    self.republished = True
                    log.info("content: %d catalogue messages sent again at start", sent)
                await asyncio.to_thread(service.due, time.time_ns() // 1_000_000)
            except (StoreError, sqlalchemy.exc.SQLAlchemyError) as exc:
                log.warning("content: store unavailable for schedules: %s", str(exc)[:200])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.every_s)
