"""A client that stops reading: others keep their updates, it is dropped after the stall."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from dataclasses import replace
from urllib.parse import urlsplit

import orjson
import pytest
import websockets
from starlette.applications import Starlette
from websockets.asyncio.client import ClientConnection
from websockets.client import ClientProtocol
from websockets.protocol import State
from websockets.uri import parse_uri

from live_feed import create_app
from stream.settings import Settings

HEARTBEAT_S = 0.1
STALL_S = 0.5
BIG = "x" * 60_000  # a few of these fill a socket that is not read


@pytest.fixture
def live_app(settings: Settings) -> Starlette:
    """A fast feed (1000 Hz) with a short stall timeout, so a stall happens quickly."""
    fast = replace(settings, live_max_hz=1000.0)
    return create_app(fast, heartbeat=HEARTBEAT_S, stall_timeout=STALL_S)


async def subscribe_then_stop_reading(url: str, token: str) -> socket.socket:
    """A raw WebSocket client with a tiny receive buffer that never reads after subscribing."""
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    where = urlsplit(url)
    await loop.sock_connect(sock, (where.hostname, where.port))
    ws = ClientProtocol(parse_uri(url))
    request = ws.connect()
    request.headers["Authorization"] = f"Bearer {token}"
    ws.send_request(request)
    await loop.sock_sendall(sock, b"".join(ws.data_to_send()))
    async with asyncio.timeout(5):
        while ws.state is not State.OPEN:
            ws.receive_data(await loop.sock_recv(sock, 4096))
            ws.events_received()
    ws.send_text(orjson.dumps({"subscribe": ["traffic"]}))
    await loop.sock_sendall(sock, b"".join(ws.data_to_send()))
    return sock


def slow_disconnects(app: Starlette) -> float:
    value = app.state.metrics.registry.get_sample_value("dojo_live_slow_client_disconnects_total")
    return float(value or 0.0)


async def test_a_stalled_client_is_dropped_and_the_others_keep_receiving(
    live_app: Starlette,
    live_server: str,
    publisher: Callable[..., None],
    auth: dict[str, str],
    token: str,
) -> None:
    url = f"{live_server}/ws/live"
    stalled = await subscribe_then_stop_reading(url, token)
    received: list[int] = []
    last = asyncio.Event()

    async def read(healthy: ClientConnection) -> None:
        async for text in healthy:
            message = orjson.loads(text)
            if message.get("type") == "update":
                received.append(message["data"]["n"])
                if message["data"]["n"] == -1:
                    last.set()

    async with websockets.connect(url, additional_headers=auth, max_size=None) as healthy:
        await healthy.send(orjson.dumps({"subscribe": ["traffic"]}).decode())
        reader = asyncio.create_task(read(healthy))
        async with asyncio.timeout(5):
            while live_app.state.hub.client_count < 2:
                await asyncio.sleep(0.01)  # polling, bounded by the deadline
        n = 0
        async with asyncio.timeout(15):
            while slow_disconnects(live_app) < 1:
                n += 1
                publisher("traffic", {"n": n, "pad": BIG}, ts=n)
                await asyncio.sleep(0.01)  # publishing pace, so the server and reader run
        publisher("traffic", {"n": -1}, ts=n + 1)
        async with asyncio.timeout(10):
            await last.wait()
        reader.cancel()
        assert live_app.state.hub.client_count == 1
    assert received[-1] == -1
    assert len(received) > 10  # the healthy client kept receiving while the other stalled
    assert slow_disconnects(live_app) == 1
    # The stalled socket was cut: reading it now ends in EOF or a reset, not more data forever.
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(5):
        with pytest.raises(ConnectionResetError):
            while await loop.sock_recv(stalled, 65536):
                pass
            raise ConnectionResetError("closed cleanly")
    stalled.close()
