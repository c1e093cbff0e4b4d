"""Delivering a take's outputs: refused sends go again through a new producer, acked ones never.

aiokafka's producer is faked at its public surface (start, send -> future, stop); the real
broker restart is ``tests/integration/test_validate_restart.py``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaTimeoutError,
    LeaderNotAvailableError,
    OutOfOrderSequenceNumber,
)

from stream.sinks.producer import Deliverer, Output


class FakeProducer:
    """Acks every send, except that after ``break_after`` sends every send fails with ``error``."""

    def __init__(
        self,
        written: list[Output],
        break_after: int | None = None,
        error: type[Exception] = OutOfOrderSequenceNumber,
        refuse_start: bool = False,
        refuse_send: bool = False,
    ) -> None:
        self.written = written
        self.break_after = break_after
        self.error = error
        self.refuse_start = refuse_start
        self.refuse_send = refuse_send
        self.sends = 0
        self.stopped = False

    async def start(self) -> None:
        if self.refuse_start:
            raise KafkaConnectionError("Unable to bootstrap")

    async def stop(self) -> None:
        self.stopped = True

    async def partitions_for(self, topic: str) -> set[int]:
        return {0, 1}

    async def send(
        self, topic: str, value: bytes, key: bytes | None = None, partition: int | None = None
    ) -> asyncio.Future[Any]:
        if self.refuse_send:
            raise KafkaTimeoutError()  # aiokafka raises some refusals from send() itself
        self.sends += 1
        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self.break_after is not None and self.sends > self.break_after:
            answer.set_exception(self.error())
        else:
            self.written.append(Output(topic, value, key, partition))
            answer.set_result(None)
        return answer


class Producers:
    """A producer factory that hands out the test's producers in order, then healthy ones."""

    def __init__(self, written: list[Output], *script: dict[str, Any]) -> None:
        self.written = written
        self.script = list(script)
        self.made: list[FakeProducer] = []

    def __call__(self) -> FakeProducer:
        options = self.script.pop(0) if self.script else {}
        producer = FakeProducer(self.written, **options)
        self.made.append(producer)
        return producer


def outputs(n: int) -> list[Output]:
    return [Output("events", f"bundle {k}".encode(), None, k % 2) for k in range(n)]


@pytest.mark.parametrize("error", [OutOfOrderSequenceNumber, LeaderNotAvailableError])
async def test_refused_sends_go_again_through_a_new_producer_and_acked_ones_never(
    error: type[Exception],
) -> None:
    written: list[Output] = []
    producers = Producers(written, {"break_after": 3, "error": error})
    out = Deliverer(producers, "test")
    await out.start()

    await out.deliver(outputs(10))

    assert sorted(written) == sorted(outputs(10))  # each exactly once
    assert out.rebuilds == 1
    assert [p.sends for p in producers.made] == [10, 7]
    assert producers.made[0].stopped  # retired in the background
    await out.stop()


async def test_a_broker_still_away_is_waited_out_and_each_output_still_written_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    written: list[Output] = []
    producers = Producers(
        written,
        {"break_after": 0},
        {"refuse_start": True},
        {"refuse_send": True},
        {"refuse_start": True},
    )
    out = Deliverer(producers, "test", clock=lambda: 0.0)
    await out.start()

    with caplog.at_level(logging.WARNING, logger="stream.sinks.producer"):
        await out.deliver(outputs(4))
        await out.deliver(outputs(2))

    assert sorted(written) == sorted(outputs(4) + outputs(2))
    assert len(producers.made) == 5
    said = [r.getMessage() for r in caplog.records]
    # One line when Kafka went, one when it came back: not one per attempt.
    assert said == [
        "test: Kafka refused a send (OutOfOrderSequenceNumber); sending again through a new producer",
        "test: Kafka takes sends again after 0 s",
    ]
    await out.stop()


async def test_nothing_to_deliver_sends_nothing() -> None:
    written: list[Output] = []
    out = Deliverer(Producers(written), "test")
    await out.start()
    await out.deliver([])
    assert written == [] and out.rebuilds == 0
    await out.stop()


async def test_a_programming_error_is_not_taken_for_kafka_refusing() -> None:
    written: list[Output] = []
    out = Deliverer(Producers(written, {"break_after": 0, "error": AttributeError}), "test")
    await out.start()
    with pytest.raises(AttributeError):
        await out.deliver(outputs(1))
    await out.stop()


async def test_the_producer_is_there_only_while_started() -> None:
    out = Deliverer(Producers([]), "test")
    with pytest.raises(RuntimeError):
        _ = out.producer
    await out.start()
    assert await out.producer.partitions_for("events") == {0, 1}
    await out.stop()
    with pytest.raises(RuntimeError):
        _ = out.producer
