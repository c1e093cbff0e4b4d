"""A live client: writes at once when it may, else one pending message per channel; stalls end it."""

from __future__ import annotations

from collections.abc import Callable

import orjson

from live_feed.client import CLOSE_TRY_AGAIN, LiveClient
from live_feed.metrics import LiveMetrics
from live_feed.outgoing import Outgoing


class ListSink:
    """A sink that keeps what it is given; ``ready`` is set by the test."""

    def __init__(self) -> None:
        self.on_ready: Callable[[], None] | None = None
        self.ready = True
        self.written: list[dict[str, object]] = []
        self.aborted = False

    def write(self, out: Outgoing) -> None:
        self.written.append(orjson.loads(out.json))

    def abort(self) -> None:
        self.aborted = True

    def direct(self) -> None:
        return None


def update(channel: str, ts: int, data: object = None) -> Outgoing:
    return Outgoing.of({"channel": channel, "type": "update", "data": data, "ts": ts})


def sample(metrics: LiveMetrics, name: str) -> float | None:
    value: float | None = metrics.registry.get_sample_value(name)
    return value


def make(sink: ListSink, metrics: LiveMetrics, asked: list[float], *channels: str) -> LiveClient:
    """A 4 Hz client subscribed to ``channels`` (released at once: no snapshot wait)."""
    client = LiveClient(
        sink, metrics, max_hz=4, stall_timeout=10.0, schedule=lambda c, when: asked.append(when)
    )
    for channel in channels:
        client.hold(channel)
        client.release(channel, 0.0)
    return client


async def test_a_stalled_sink_keeps_one_message_and_ends_the_client_after_the_timeout() -> None:
    metrics, sink, asked = LiveMetrics(), ListSink(), []
    client = make(sink, metrics, asked, "traffic")
    sink.ready = False
    for i in range(1000):  # the hub keeps delivering while the socket is stuck
        assert not client.deliver(update("traffic", i, i), "traffic", 0.0)
    assert len(client.outbox) == 1
    assert client.flush(1.0) == 11.0  # come back when the stall deadline passes
    assert not client.ended.done()
    assert client.flush(11.0) is None
    assert client.ended.result() == CLOSE_TRY_AGAIN
    assert sink.written == []
    assert sample(metrics, "dojo_live_slow_client_disconnects_total") == 1
    assert sample(metrics, "dojo_live_messages_coalesced_total") == 999


async def test_a_sink_that_recovers_gets_the_latest_value_and_no_disconnect() -> None:
    metrics, sink, asked = LiveMetrics(), ListSink(), []
    client = make(sink, metrics, asked, "traffic")
    sink.ready = False
    for i in range(3):
        client.deliver(update("traffic", i, i), "traffic", 0.0)
    assert client.flush(5.0) == 15.0
    sink.ready = True
    assert client.flush(9.0) is None
    assert [m["data"] for m in sink.written] == [2]
    assert not client.ended.done()
    assert sample(metrics, "dojo_live_messages_sent_total") == 1


async def test_updates_go_at_once_then_wait_for_the_rate_cap() -> None:
    metrics, sink, asked = LiveMetrics(), ListSink(), []
    client = make(sink, metrics, asked, "forms")
    assert client.deliver(update("forms", 1, "a"), "forms", 10.0)
    assert not client.deliver(update("forms", 2, "b"), "forms", 10.1)
    assert asked[-1] == 10.1
    assert client.flush(10.1) == 10.25  # 4 Hz: 0.25 s after the first send
    assert client.flush(10.25) is None
    assert [m["data"] for m in sink.written] == ["a", "b"]


async def test_updates_wait_for_the_snapshot_which_takes_the_newest_data() -> None:
    metrics, sink, asked = LiveMetrics(), ListSink(), []
    client = make(sink, metrics, asked)
    client.hold("vitals")
    assert not client.deliver(update("vitals", 20, "new"), "vitals", 0.0)
    assert client.flush(0.0) is None
    assert sink.written == []
    snapshot = Outgoing.of({"channel": "vitals", "type": "snapshot", "data": "old", "ts": 10})
    client.deliver_snapshot(snapshot, 0.0)
    client.flush(0.0)
    assert sink.written == [{"channel": "vitals", "type": "snapshot", "data": "new", "ts": 20}]


async def test_control_messages_come_first_and_unsubscribed_channels_are_dropped() -> None:
    metrics, sink, asked = LiveMetrics(), ListSink(), []
    client = make(sink, metrics, asked, "forms")
    sink.ready = False
    client.deliver(update("forms", 2, 2), "forms", 0.0)
    client.notify({"type": "error", "detail": "bad"}, 0.0)
    client.hold("traffic")
    client.release("traffic", 0.0)
    client.deliver(update("traffic", 3, 3), "traffic", 0.0)
    client.drop("traffic")
    sink.ready = True
    client.flush(0.0)
    assert sink.written == [
        {"type": "error", "detail": "bad"},
        {"channel": "forms", "type": "update", "data": 2, "ts": 2},
    ]
    assert sample(metrics, "dojo_live_messages_sent_total") == 2
