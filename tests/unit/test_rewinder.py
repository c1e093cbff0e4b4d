"""The rewinder: one seek per partition to the lowest awaited offset, and again if it is lost."""

from __future__ import annotations

from typing import Any

from stream.runtime.rewind import RESEEK_S, Rewinder


class Consumer:
    def __init__(self) -> None:
        self.seeks: list[tuple[int, int]] = []

    async def seek(self, tp: Any, offset: int) -> None:
        self.seeks.append((tp.partition, offset))


class App:
    def __init__(self) -> None:
        self.consumer = Consumer()


async def test_seeks_to_the_lowest_awaited_offset_and_retries_until_settled() -> None:
    now = [100.0]
    rewinder = Rewinder(clock=lambda: now[0])
    app: Any = App()
    await rewinder.request(app, "events", owner=1, partition=0, offset=50)
    await rewinder.request(app, "events", owner=2, partition=0, offset=70)  # above: no seek
    await rewinder.request(app, "events", owner=2, partition=1, offset=5)
    assert app.consumer.seeks == [(0, 50), (1, 5)]

    await rewinder.retry(app, "events")  # too soon: the first seek may still take effect
    assert len(app.consumer.seeks) == 2
    rewinder.settle(owner=2, still_awaited={0})  # owner 2 got partition 1's offset 5
    now[0] += RESEEK_S
    await rewinder.retry(app, "events")
    assert app.consumer.seeks[2:] == [(0, 50)]  # partition 0 is still awaited; 1 is not

    rewinder.settle(owner=1, still_awaited=set())
    rewinder.settle(owner=2, still_awaited=set())
    now[0] += RESEEK_S
    await rewinder.retry(app, "events")
    assert len(app.consumer.seeks) == 3
