"""Rewind: seek a worker's consumer back to the offsets its states are missing."""

from __future__ import annotations

import time
from collections.abc import Callable

import faust
from faust.types import TP

RESEEK_S = 2.0  # a partition still awaited this long after its seek is sought again


class Rewinder:
    """Seeks the worker's consumer back for states that found a gap (one per app, see ``Crew``).

    Several states may wait on one partition; the consumer is sought to the lowest offset
    any of them awaits, and seeking back is always safe (states skip what they hold). A
    seek can be undone by messages fetched before it (Faust then drops the re-read ones as
    already seen), so a partition still awaited after ``RESEEK_S`` is sought again.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.awaited: dict[int, dict[int, int]] = {}  # partition -> {state id: offset}
        self.sought: dict[int, float] = {}  # partition -> when it was last sought
        self.clock = clock

    async def request(
        self, app: faust.App, topic: str, owner: int, partition: int, offset: int
    ) -> None:
        waiting = self.awaited.setdefault(partition, {})
        lowest = min(waiting.values(), default=None)
        waiting[owner] = offset
        if lowest is None or offset < lowest:
            await self._seek(app, topic, partition, offset)

    async def retry(self, app: faust.App, topic: str) -> None:
        """Seek again every partition that is awaited and was last sought long ago."""
        for partition, waiting in list(self.awaited.items()):
            if waiting and self.clock() - self.sought.get(partition, 0.0) >= RESEEK_S:
                await self._seek(app, topic, partition, min(waiting.values()))

    async def _seek(self, app: faust.App, topic: str, partition: int, offset: int) -> None:
        self.sought[partition] = self.clock()
        await app.consumer.seek(TP(topic, partition), offset)

    def settle(self, owner: int, still_awaited: set[int]) -> None:
        """Forget the requests of ``owner`` that it no longer waits for."""
        for partition, waiting in self.awaited.items():
            if partition not in still_awaited:
                waiting.pop(owner, None)

    def forget(self, partitions: set[int]) -> None:
        for partition in partitions:
            self.awaited.pop(partition, None)
            self.sought.pop(partition, None)
