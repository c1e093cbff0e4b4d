"""The feed under uvicorn as served: shared frames written straight to every socket."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import orjson
import websockets
from starlette.applications import Starlette
from websockets.asyncio.client import ClientConnection

Match = Callable[[dict[str, Any]], bool]


async def read_until(ws: ClientConnection, match: Match, timeout: float = 5.0) -> dict[str, Any]:
    """Read messages until one matches; fail at the deadline (pings keep reads short)."""
    async with asyncio.timeout(timeout):
        while True:
            message: dict[str, Any] = orjson.loads(await ws.recv())
            if match(message):
                return message


def update_with(n: int) -> Match:
    return lambda m: m.get("type") == "update" and m.get("data") == {"n": n}


def counter(app: Starlette, name: str) -> float:
    value = app.state.metrics.registry.get_sample_value(name)
    return float(value or 0.0)


async def test_every_client_gets_the_snapshot_then_each_update(
    live_app: Starlette, live_server: str, publisher: Callable[..., None], auth: dict[str, str]
) -> None:
    publisher("traffic", {"n": 0}, ts=1)
    async with contextlib.AsyncExitStack() as stack:
        sockets = [
            await stack.enter_async_context(
                websockets.connect(f"{live_server}/ws/live", additional_headers=auth)
            )
            for _ in range(20)
        ]
        for ws in sockets:
            await ws.send(orjson.dumps({"subscribe": ["traffic"]}).decode())
        for ws in sockets:
            snapshot = await read_until(ws, lambda m: m.get("type") == "snapshot")
            assert snapshot == {"channel": "traffic", "type": "snapshot", "data": {"n": 0}, "ts": 1}
            # The frames are shared by all connections, so none may be compressed.
            assert ws.protocol.extensions == []
        sent_before = counter(live_app, "dojo_live_messages_sent_total")
        publisher("traffic", {"n": 1}, ts=2)
        updates = [await read_until(ws, update_with(1)) for ws in sockets]
    assert updates == [{"channel": "traffic", "type": "update", "data": {"n": 1}, "ts": 2}] * 20
    assert counter(live_app, "dojo_live_messages_sent_total") >= sent_before + 20


async def test_a_burst_is_coalesced_per_client_and_the_latest_wins(
    live_app: Starlette, live_server: str, publisher: Callable[..., None], auth: dict[str, str]
) -> None:
    async with websockets.connect(f"{live_server}/ws/live", additional_headers=auth) as ws:
        await ws.send(orjson.dumps({"subscribe": ["forms"]}).decode())
        await read_until(ws, lambda m: m.get("type") == "snapshot")
        for n in range(50):
            publisher("forms", {"n": n}, ts=100 + n)
        seen: list[dict[str, Any]] = []
        await read_until(ws, lambda m: bool(seen.append(m)) or update_with(49)(m))
    updates = [m["ts"] for m in seen if m.get("type") == "update"]
    assert len(updates) < 20
    assert counter(live_app, "dojo_live_messages_coalesced_total") >= 40  # 10 Hz: a few go out
    assert updates == sorted(updates)


async def test_control_messages_and_unsubscribe_over_the_direct_path(
    live_server: str, publisher: Callable[..., None], auth: dict[str, str]
) -> None:
    async with websockets.connect(f"{live_server}/ws/live", additional_headers=auth) as ws:
        await ws.send(orjson.dumps({"subscribe": ["traffic", "vitals"]}).decode())
        await read_until(ws, lambda m: m.get("channel") == "vitals")
        await ws.send(orjson.dumps({"type": "ping", "ts": 5}).decode())
        assert await read_until(ws, lambda m: m.get("type") == "pong") == {"type": "pong", "ts": 5}
        await ws.send(orjson.dumps({"unsubscribe": ["traffic"]}).decode())
        await ws.send("not json")  # its error reply proves the unsubscribe was applied
        await read_until(ws, lambda m: m.get("type") == "error")
        seen: list[dict[str, Any]] = []
        publisher("traffic", {"n": 1}, ts=1)
        publisher("vitals", {"n": 2}, ts=2)
        await read_until(ws, lambda m: bool(seen.append(m)) or update_with(2)(m))
    assert [m["channel"] for m in seen if m.get("type") != "ping"] == ["vitals"]
