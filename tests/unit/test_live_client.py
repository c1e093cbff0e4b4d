"""A live client's sender: stalls end in SlowClient; fan-out never waits on the socket."""

from __future__ import annotations

import asyncio

import pytest

from live_feed.client import LiveClient, SlowClient
from live_feed.metrics import LiveMetrics


def sample(metrics: LiveMetrics, name: str) -> float | None:
    value: float | None = metrics.registry.get_sample_value(name)
    return value


async def test_a_stalled_socket_raises_slow_client_and_is_counted() -> None:
    metrics = LiveMetrics()
    never = asyncio.Event()

    async def stalled_send(text: str) -> None:
        await never.wait()

    client = LiveClient(stalled_send, metrics, max_hz=4, stall_timeout=0.05)
    client.channels.add("traffic")
    for i in range(1000):  # the hub keeps delivering while the socket is stuck
        client.deliver({"channel": "traffic", "type": "update", "data": i, "ts": i})
    assert len(client.outbox) == 1
    with pytest.raises(SlowClient):
        async with asyncio.timeout(5):
            await client.run_sender()
    assert sample(metrics, "dojo_live_slow_client_disconnects_total") == 1
    assert sample(metrics, "dojo_live_messages_coalesced_total") == 999


async def test_messages_reach_the_socket_in_order_for_subscribed_channels_only() -> None:
    metrics = LiveMetrics()
    got: list[str] = []

    async def send(text: str) -> None:
        got.append(text)

    client = LiveClient(send, metrics, max_hz=100)
    client.channels.add("forms")
    client.deliver({"channel": "traffic", "type": "update", "data": 1, "ts": 1})
    client.deliver({"channel": "forms", "type": "update", "data": 2, "ts": 2})
    client.notify({"type": "error", "detail": "bad"})
    sender = asyncio.create_task(client.run_sender())
    async with asyncio.timeout(5):
        while len(got) < 2:
            await asyncio.sleep(0.01)
    sender.cancel()
    assert got == [
        '{"type":"error","detail":"bad"}',
        '{"channel":"forms","type":"update","data":2,"ts":2}',
    ]
    assert sample(metrics, "dojo_live_messages_sent_total") == 2
