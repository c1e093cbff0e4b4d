"""Clients in step: one pass of direct socket writes per update, the rate cap kept, safe fallbacks."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable, Iterator

import orjson
import pytest

from live_feed.client import Direct, LiveClient
from live_feed.hub import Hub
from live_feed.metrics import LiveMetrics
from live_feed.outgoing import Outgoing
from stream.models.keys import Keys
from stream.settings import Settings

MAX_HZ = 10.0
KEYS = Keys.of(Settings())


class SocketSink:
    """A sink on one end of a socket pair; the test reads the other end."""

    def __init__(self, sock: socket.socket) -> None:
        self.on_ready: Callable[[], None] | None = None
        self.sock = sock
        self.closing = False
        self.held = bytearray()  # what a transport would still hold after a partial write

    @property
    def ready(self) -> bool:
        return not self.closing and not self.held

    def write(self, out: Outgoing) -> None:
        """Like a transport: send what the socket takes, hold the rest."""
        try:
            done = 0 if self.held else self.sock.send(out.frame)
        except BlockingIOError:
            done = 0
        self.held += out.frame[done:]

    def abort(self) -> None:
        self.closing = True

    def direct(self) -> Direct:
        return Direct(
            lambda: self.closing, lambda: len(self.held), self.held.extend, self.sock.fileno()
        )


class Peer:
    """The reading end: decodes the feed's small text frames into messages."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.sock.setblocking(False)
        self.buffer = b""

    def messages(self) -> list[dict[str, object]]:
        try:
            while chunk := self.sock.recv(65536):
                self.buffer += chunk
        except BlockingIOError:
            pass
        out = []
        while len(self.buffer) >= 2:
            length = self.buffer[1] & 0x7F
            assert length < 126, "test frames are small"
            if len(self.buffer) < 2 + length:
                break
            out.append(orjson.loads(self.buffer[2 : 2 + length]))
            self.buffer = self.buffer[2 + length :]
        return out


@pytest.fixture
def pairs() -> Iterator[list[tuple[socket.socket, socket.socket]]]:
    made = [socket.socketpair() for _ in range(20)]
    yield made
    for a, b in made:
        a.close()
        b.close()


def subscribed(hub: Hub, sink: SocketSink, channel: str) -> LiveClient:
    client = hub.connect(sink)
    hub.subscribe(client, channel)
    client.release(channel, hub.now())  # no snapshot in these tests
    return client


def publish(hub: Hub, channel: str, n: int) -> None:
    hub.route(KEYS.live(channel), orjson.dumps({"channel": channel, "data": n, "ts": n}))


def sample(metrics: LiveMetrics, name: str) -> float:
    return float(metrics.registry.get_sample_value(name) or 0.0)


async def test_in_step_clients_get_the_first_update_at_once_and_the_latest_after_the_cap(
    pairs: list[tuple[socket.socket, socket.socket]],
) -> None:
    metrics = LiveMetrics()
    hub = Hub(None, KEYS, metrics, max_hz=MAX_HZ)  # type: ignore[arg-type]  # no Redis: route only
    sinks = [SocketSink(a) for a, _ in pairs]
    peers = [Peer(b) for _, b in pairs]
    for sink in sinks:
        subscribed(hub, sink, "traffic")
    publish(hub, "traffic", 1)  # written through each client's outbox; they fall in step
    assert all([m["data"] for m in p.messages()] == [1] for p in peers)
    first = time.monotonic()
    await asyncio.sleep(0.11)  # past the rate cap, so the next update may go at once
    publish(hub, "traffic", 2)  # the in-step pass
    for n in (3, 4, 5):  # within the cap: held for the lane, the latest wins
        publish(hub, "traffic", n)
    assert all([m["data"] for m in p.messages()] == [2] for p in peers)
    got: list[list[object]] = [[] for _ in peers]
    async with asyncio.timeout(5):
        while not all(g == [5] for g in got):
            await asyncio.sleep(0.01)  # polling, bounded by the deadline
            for g, p in zip(got, peers, strict=True):
                g += [m["data"] for m in p.messages()]
    assert time.monotonic() - first >= 2 / MAX_HZ
    assert sample(metrics, "dojo_live_messages_sent_total") == 3 * len(peers)
    assert sample(metrics, "dojo_live_messages_coalesced_total") == 2 * len(peers)


async def test_a_closing_transport_is_never_written_and_the_others_still_are(
    pairs: list[tuple[socket.socket, socket.socket]],
) -> None:
    hub = Hub(None, KEYS, LiveMetrics(), max_hz=MAX_HZ)  # type: ignore[arg-type]
    sinks = [SocketSink(a) for a, _ in pairs[:3]]
    peers = [Peer(b) for _, b in pairs[:3]]
    for sink in sinks:
        subscribed(hub, sink, "forms")
    publish(hub, "forms", 1)
    assert [len(p.messages()) for p in peers] == [1, 1, 1]
    await asyncio.sleep(0.11)  # past the rate cap
    sinks[1].closing = True  # e.g. the peer's close frame arrived: the descriptor may go
    publish(hub, "forms", 2)
    assert [[m["data"] for m in p.messages()] for p in peers] == [[2], [], [2]]


async def test_a_partial_write_is_finished_by_the_transport_and_leaves_the_step(
    pairs: list[tuple[socket.socket, socket.socket]],
) -> None:
    hub = Hub(None, KEYS, LiveMetrics(), max_hz=MAX_HZ)  # type: ignore[arg-type]
    sink, (a, b) = SocketSink(pairs[0][0]), pairs[0]
    client = subscribed(hub, sink, "vitals")
    publish(hub, "vitals", 1)
    Peer(b).messages()
    a.setblocking(False)
    try:
        while True:  # fill the socket so the next direct write cannot complete
            a.send(b"\0" * 65536)
    except BlockingIOError:
        pass
    await asyncio.sleep(0.11)  # past the rate cap
    publish(hub, "vitals", 2)
    # The direct write could not go: the client left the step and its own path handed
    # the frame to the transport (``held``), whole and once.
    assert bytes(sink.held) == b'\x814{"channel":"vitals","type":"update","data":2,"ts":2}'
    for n in (3, 4):  # while the transport holds data, updates wait in the outbox
        publish(hub, "vitals", n)
    assert len(client.outbox) == 1
    assert bytes(sink.held).count(b"data") == 1
