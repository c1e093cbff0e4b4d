"""The ``/ws/live`` WebSocket: authenticate, then subscribe/unsubscribe and receive updates."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import orjson
from redis.exceptions import RedisError
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from live_feed.asgi_sink import AsgiSink
from live_feed.auth import Gate, Verdict, client_of, lowered, presented_token, same_origin
from live_feed.channels import is_channel, read_snapshot
from live_feed.client import CLOSE_TRY_AGAIN, MAX_SUBSCRIPTIONS, LiveClient, Sink
from live_feed.frame_protocol import frame_sink
from live_feed.hub import Hub
from live_feed.outgoing import Outgoing
from live_feed.session import COOKIE

CLOSE_UNAUTHORIZED = 4401
CLOSE_THROTTLED = 4429  # the panel retries later, with its backoff
CLOSE_UNAVAILABLE = 1013  # "try again later": the session store did not answer
CLOSE_POLICY = 1008
TOKEN_WAIT_S = 5.0
MAX_BAD_MESSAGES = 20
MAX_MESSAGE_CHARS = 4096


async def live_endpoint(websocket: WebSocket) -> None:
    """Serve one admin's live feed until either side closes."""
    state = websocket.app.state
    await websocket.accept()
    verdict = await _authenticate(websocket, state.gate)
    if not verdict.allowed:
        await websocket.close(_CLOSE_CODES.get(verdict.status, CLOSE_UNAUTHORIZED), "unauthorized")
        return
    hub: Hub = state.hub
    sink: Sink | None = frame_sink(websocket.scope.get("extensions"))
    tasks: set[asyncio.Future[Any]] = set()
    if sink is None:
        fallback = AsgiSink(websocket.send_text)
        tasks.add(asyncio.create_task(fallback.run()))
        sink = fallback
    client = hub.connect(sink)
    receiver = asyncio.create_task(_receive(websocket, hub, client))
    tasks |= {receiver, client.ended}
    code: int | None = None
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        if client.ended.done():
            code = client.ended.result() or None
        elif receiver.done() and not receiver.cancelled():
            code = receiver.result()
    finally:
        hub.disconnect(client)
        for task in tasks - {client.ended}:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
    if code == CLOSE_TRY_AGAIN:
        sink.abort()  # its peer stopped reading: it would not take a close frame either
    if code is not None and websocket.client_state == WebSocketState.CONNECTED:
        # A stalled socket may not take the close frame either; don't wait on it for long.
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1.0):
                await websocket.close(code)


_CLOSE_CODES = {429: CLOSE_THROTTLED, 503: CLOSE_UNAVAILABLE}


async def _authenticate(websocket: WebSocket, gate: Gate) -> Verdict:
    """A header token, else the session cookie (same origin only), else a first message."""
    headers = lowered(websocket)
    client = client_of(websocket)
    token = presented_token(headers)
    if token is not None:
        return gate.token(gate.settings.admin_token, token, client)
    cookie = websocket.cookies.get(COOKIE)
    if cookie:
        return await gate.session(cookie) if same_origin(headers) else gate.refuse()
    try:
        async with asyncio.timeout(TOKEN_WAIT_S):
            first = await websocket.receive_text()
    except (TimeoutError, WebSocketDisconnect, KeyError):
        return gate.refuse()
    body = _decode(first)
    token = _str(body.get("token")) if body is not None else None
    if not token:
        return gate.refuse()  # no credential: not a guess, not throttled
    return gate.token(gate.settings.admin_token, token, client)


async def _receive(websocket: WebSocket, hub: Hub, client: LiveClient) -> int | None:
    """Handle client messages; returns a close code if the client must be dropped."""
    bad = 0
    while True:
        try:
            text = await websocket.receive_text()
        except (WebSocketDisconnect, KeyError):
            return None  # KeyError: a binary frame has no "text"
        detail = await _handle(websocket, hub, client, text)
        if detail is not None:
            bad += 1
            client.notify({"type": "error", "detail": detail}, hub.now())
            if bad > MAX_BAD_MESSAGES:
                return CLOSE_POLICY


async def _handle(websocket: WebSocket, hub: Hub, client: LiveClient, text: str) -> str | None:
    """Apply one client message; returns an error detail if it could not be understood."""
    if len(text) > MAX_MESSAGE_CHARS:
        return "message too large"
    body = _decode(text)
    if body is None:
        return "expected a JSON object"
    if body.get("type") == "ping":
        client.notify({"type": "pong", "ts": body.get("ts")}, hub.now())
        return None
    if "token" in body and len(body) == 1:
        return None  # a client that always sends its token first is not wrong
    subscribe, unsubscribe = body.get("subscribe"), body.get("unsubscribe")
    if subscribe is None and unsubscribe is None:
        return "expected subscribe or unsubscribe"
    channels: list[str] = []
    for names in (subscribe, unsubscribe):
        if names is not None and not _is_channel_list(names):
            return "channels must be a list of names matching [a-z_]{1,32}"
    for channel in unsubscribe or []:
        hub.unsubscribe(client, channel)
    for channel in subscribe or []:
        if channel not in client.channels and len(client.channels) >= MAX_SUBSCRIPTIONS:
            return f"at most {MAX_SUBSCRIPTIONS} channels per connection"
        hub.subscribe(client, channel)  # updates wait for the snapshot, so it comes first
        channels.append(channel)
    for n, channel in enumerate(channels):
        try:
            snapshot = await read_snapshot(
                websocket.app.state.redis, websocket.app.state.keys, channel
            )
        except RedisError:
            for rest in channels[n:]:
                client.release(rest, hub.now())
            return f"snapshot of {channel} unavailable; updates will follow"
        if channel in client.channels:  # not unsubscribed while Redis answered
            client.deliver_snapshot(Outgoing.of(snapshot), hub.now())
    return None


def _decode(text: str) -> dict[str, Any] | None:
    try:
        body = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return body if isinstance(body, dict) else None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _is_channel_list(value: object) -> bool:
    return (
        isinstance(value, list)
        and len(value) <= MAX_SUBSCRIPTIONS
        and all(is_channel(v) for v in value)
    )
