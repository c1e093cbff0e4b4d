"""KafkaSink's recovery: a broken producer session is rebuilt once, requests never hang.

aiokafka's producer is replaced through the sink's public ``new_producer`` seam by a fake
that answers as the real one does in each failure; the sink itself is the real one.
"""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaTimeoutError,
    NotLeaderForPartitionError,
    RecordTooLargeError,
)

from collector.sink import (
    FAILING_FOR_S,
    SESSION_BROKEN,
    KafkaSink,
    SinkUnavailable,
    needs_new_producer,
)
from stream.settings import Settings
from tests.collector.conftest import Clock


class FakeProducer:
    """aiokafka's producer as the sink sees it: start, send_and_wait, stop."""

    def __init__(
        self,
        fail_with: BaseException | None = None,
        start_gate: asyncio.Event | None = None,
        refuse_start: bool = False,
        stop_gate: asyncio.Event | None = None,
    ) -> None:
        self.fail_with = fail_with
        self.start_gate = start_gate
        self.refuse_start = refuse_start
        self.stop_gate = stop_gate
        self.sent: list[tuple[str, bytes, bytes]] = []
        self.stopped = False

    async def start(self) -> None:
        if self.start_gate is not None:
            await self.start_gate.wait()
        if self.refuse_start:
            raise KafkaConnectionError("Unable to bootstrap from [('127.0.0.1', 9)]")

    async def stop(self) -> None:
        if self.stop_gate is not None:
            await self.stop_gate.wait()
        self.stopped = True

    async def send_and_wait(self, topic: str, value: bytes, key: bytes) -> None:
        if self.fail_with is not None:
            raise type(self.fail_with)(*self.fail_with.args)
        self.sent.append((topic, key, value))


class Producers:
    """The sink's producer factory: hands out the test's producers, then healthy ones."""

    def __init__(self, *script: FakeProducer) -> None:
        self.script = list(script)
        self.made: list[FakeProducer] = []

    def __call__(self) -> FakeProducer:
        producer = self.script.pop(0) if self.script else FakeProducer()
        self.made.append(producer)
        return producer


def make_sink(
    producers: Producers, clock: Clock | None = None, timeout_s: float = 5.0
) -> KafkaSink:
    return KafkaSink(
        Settings(),
        topic="raw",
        request_timeout_s=timeout_s,
        new_producer=producers,
        clock=clock or Clock(0.0),
    )


async def until(check: object, seconds: float = 5.0) -> None:
    """Poll ``check()`` on the event loop until true, failing after ``seconds``."""
    assert callable(check)
    end = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < end, f"not within {seconds} s"
        await asyncio.sleep(0.01)


async def refused_quickly(sink: KafkaSink) -> bool:
    """A send is refused without waiting on Kafka (well under a second)."""
    try:
        async with asyncio.timeout(0.2):
            await sink.send(b"k", b"v")
    except SinkUnavailable:
        return True
    return False


@pytest.mark.parametrize("broken", SESSION_BROKEN, ids=lambda e: e.__name__)
async def test_a_broken_session_is_rebuilt_once_while_requests_are_refused(
    broken: type[Exception],
) -> None:
    reopen = asyncio.Event()
    first, second = FakeProducer(fail_with=broken()), FakeProducer(start_gate=reopen)
    producers = Producers(first, second)
    sink = make_sink(producers)
    await sink.start()
    await until(lambda: sink.ready)

    # Fifty requests fail on the broken session at once: one rebuild, not fifty.
    results = await asyncio.gather(
        *(sink.send(b"k", b"%d" % n) for n in range(50)), return_exceptions=True
    )
    assert all(isinstance(r, SinkUnavailable) for r in results), results
    assert sink.rebuilds == 1
    await until(lambda: first.stopped)
    assert not sink.ready
    # While the new producer connects, requests are refused at once, never parked.
    assert all([await refused_quickly(sink) for _ in range(20)])
    assert producers.made == [first, second]

    reopen.set()
    await until(lambda: sink.ready)
    await sink.send(b"sess", b"after")
    assert second.sent == [("raw", b"sess", b"after")]
    assert sink.rebuilds == 1 and len(producers.made) == 2
    await sink.stop()
    assert second.stopped


async def test_a_passing_error_keeps_the_producer() -> None:
    clock = Clock(0.0)
    flaky = FakeProducer(fail_with=NotLeaderForPartitionError())
    producers = Producers(flaky)
    sink = make_sink(producers, clock)
    await sink.start()
    await until(lambda: sink.ready)
    with pytest.raises(SinkUnavailable):
        await sink.send(b"k", b"v")
    clock.now += FAILING_FOR_S / 2
    with pytest.raises(SinkUnavailable):
        await sink.send(b"k", b"v")
    flaky.fail_with = None
    await sink.send(b"k", b"v")
    assert sink.ready and sink.rebuilds == 0 and producers.made == [flaky]
    # A success ends the streak: the next failure starts counting again.
    flaky.fail_with = KafkaConnectionError()
    clock.now += FAILING_FOR_S * 10
    with pytest.raises(SinkUnavailable):
        await sink.send(b"k", b"v")
    assert sink.rebuilds == 0
    await sink.stop()


async def test_failures_that_persist_rebuild_the_producer() -> None:
    clock = Clock(100.0)
    stuck = FakeProducer(fail_with=KafkaConnectionError())
    producers = Producers(stuck)
    sink = make_sink(producers, clock)
    await sink.start()
    await until(lambda: sink.ready)
    for _ in range(5):
        with pytest.raises(SinkUnavailable):
            await sink.send(b"k", b"v")
    assert sink.rebuilds == 0
    clock.now += FAILING_FOR_S
    with pytest.raises(SinkUnavailable):
        await sink.send(b"k", b"v")
    assert sink.rebuilds == 1
    await until(lambda: sink.ready)
    await sink.send(b"k", b"v")
    assert producers.made[1].sent == [("raw", b"k", b"v")]
    await sink.stop()


@pytest.mark.parametrize("no_answer", ["hangs", "aiokafka times out"])
async def test_a_send_without_an_answer_rebuilds_the_producer(no_answer: str) -> None:
    silent = FakeProducer(fail_with=KafkaTimeoutError())
    producers = Producers(silent)
    sink = make_sink(producers, timeout_s=0.05)
    await sink.start()
    await until(lambda: sink.ready)
    if no_answer == "hangs":
        never = asyncio.Event()
        silent.fail_with = None
        silent.send_and_wait = lambda *a, **k: never.wait()  # type: ignore[method-assign,assignment]
    started = time.monotonic()
    with pytest.raises(SinkUnavailable):
        await sink.send(b"k", b"v")
    assert time.monotonic() - started < 3.0
    assert sink.rebuilds == 1
    await until(lambda: sink.ready)
    await sink.stop()


async def test_an_outage_is_logged_once_when_it_starts_and_once_when_it_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="collector.sink")
    producers = Producers(
        FakeProducer(fail_with=SESSION_BROKEN[0]()),
        FakeProducer(refuse_start=True),
        FakeProducer(refuse_start=True),
    )
    sink = make_sink(producers)
    await sink.start()
    await until(lambda: sink.ready)
    for _ in range(30):
        with pytest.raises(SinkUnavailable):
            await sink.send(b"k", b"v")
    await until(lambda: sink.ready, seconds=10)  # after two refused connects (backing off)
    await sink.send(b"k", b"v")
    await sink.stop()

    lines = [r.getMessage() for r in caplog.records if r.name == "collector.sink"]
    assert len(lines) == 3, lines
    assert lines[0].startswith("Kafka producer connected")
    assert "Kafka unavailable at 127.0.0.1:9092 (OutOfOrderSequenceNumber)" in lines[1]
    assert "is back after" in lines[2]
    assert len(producers.made) == 4


async def test_stop_is_bounded_while_connecting_and_retiring() -> None:
    never = asyncio.Event()
    broken = FakeProducer(fail_with=SESSION_BROKEN[0](), stop_gate=never)
    producers = Producers(broken, FakeProducer(start_gate=never))
    sink = make_sink(producers, timeout_s=0.2)
    await sink.start()
    await until(lambda: sink.ready)
    with pytest.raises(SinkUnavailable):
        await sink.send(b"k", b"v")
    started = time.monotonic()
    await sink.stop()
    assert time.monotonic() - started < 2.0
    assert not sink.ready
    with pytest.raises(SinkUnavailable):
        await sink.send(b"k", b"v")


@pytest.mark.parametrize(
    ("error", "failing_for_s", "rebuild"),
    [
        (SESSION_BROKEN[0](), 0.0, True),
        (KafkaTimeoutError(), 0.0, True),
        (TimeoutError(), 0.0, True),
        (NotLeaderForPartitionError(), 0.0, False),
        (NotLeaderForPartitionError(), FAILING_FOR_S, True),
        (RecordTooLargeError(), FAILING_FOR_S - 0.001, False),
        (ValueError("not a Kafka error"), 0.0, False),
    ],
)
def test_which_failures_need_a_new_producer(
    error: BaseException, failing_for_s: float, rebuild: bool
) -> None:
    assert needs_new_producer(error, failing_for_s) is rebuild
