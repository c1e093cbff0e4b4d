"""Live feed fixtures: the app on the test Redis, a publisher, and a deadline-bound reader."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

import orjson
import pytest
import redis
import uvicorn
from aiokafka.errors import KafkaConnectionError
from starlette.applications import Starlette
from starlette.testclient import TestClient, WebSocketTestSession

from infra.process import free_port
from live_feed import create_app
from live_feed.app import uvicorn_options
from stream.models.keys import Keys
from stream.settings import Settings

# Pings every 0.1 s wake a blocked receive, so reads can honour a deadline without sleeps.
HEARTBEAT_S = 0.1
KEYS = Keys.of(Settings())  # the test settings keep the default namespace

Publisher = Callable[..., None]
Reader = Callable[..., dict[str, Any]]
GroupTopic = tuple[str, str]


class FixedOffsets:
    """Kafka's side of the lag, as a test sets it: fixed lags, or a broker that is down."""

    def __init__(self, lags: dict[GroupTopic, int] | None = None) -> None:
        self.lags_now = lags  # None: every read fails as with Kafka unreachable
        self.reads = 0

    async def lags(self, pairs: Sequence[GroupTopic]) -> dict[GroupTopic, int]:
        self.reads += 1
        if self.lags_now is None:
            raise KafkaConnectionError("no broker")
        return {pair: lag for pair, lag in self.lags_now.items() if pair in pairs}

    async def close(self) -> None:
        return None


@pytest.fixture
def rdb(settings: Settings) -> Iterator[redis.Redis]:
    """A plain Redis client on the test server, with the feed's keys cleared."""
    client = redis.Redis.from_url(settings.redis_url)
    for key in client.scan_iter(Keys.of(settings).namespace + "*"):
        client.delete(key)
    yield client
    client.close()


@pytest.fixture
def offsets() -> FixedOffsets:
    """The lag the apps of a test read (none by default: Kafka is not part of this tier)."""
    return FixedOffsets({})


@pytest.fixture
def client(settings: Settings, rdb: redis.Redis, offsets: FixedOffsets) -> Iterator[TestClient]:
    """A TestClient with the lifespan (Redis, hub, lag watch) running."""
    app = create_app(settings, heartbeat=HEARTBEAT_S, offsets=offsets, lag_every_s=0.05)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def token(settings: Settings) -> str:
    """The admin token of the test settings."""
    return settings.admin_token.reveal()


@pytest.fixture
def auth(token: str) -> dict[str, str]:
    """Headers that authenticate as admin."""
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def publisher(rdb: redis.Redis) -> Publisher:
    """``publisher(channel, data, ts, store=True)`` acts like a metric agent."""
    return lambda channel, data, ts, store=True: publish(rdb, channel, data, ts, store=store)


@pytest.fixture
def reader() -> Reader:
    """``reader(ws, match, timeout=5, seen=None)``: read until a message matches."""
    return read_until


def publish(rdb: redis.Redis, channel: str, data: Any, ts: int, *, store: bool = True) -> None:
    """Do what a metric agent does: store the snapshot and publish the change."""
    body = orjson.dumps({"channel": channel, "data": data, "ts": ts})
    if store:
        rdb.set(KEYS.snapshot(channel), body)
    rdb.publish(KEYS.live(channel), body)


def read_until(
    ws: WebSocketTestSession,
    match: Callable[[dict[str, Any]], bool],
    *,
    timeout: float = 5.0,
    seen: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Read messages until one matches; fail at the deadline. Non-pings go to ``seen``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message: dict[str, Any] = ws.receive_json()
        if message.get("type") != "ping" and seen is not None:
            seen.append(message)
        if match(message):
            return message
    raise AssertionError(f"no matching message within {timeout} s (saw {seen})")


@pytest.fixture
def live_app(settings: Settings, offsets: FixedOffsets) -> Starlette:
    """The app that ``live_server`` serves (its state holds the hub and the metrics)."""
    return create_app(settings, heartbeat=HEARTBEAT_S, offsets=offsets)


@pytest.fixture
async def live_server(live_app: Starlette, rdb: redis.Redis) -> AsyncIterator[str]:
    """The app under uvicorn as ``serve`` runs it, in this test's event loop; yields ws://."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            live_app, host="127.0.0.1", port=port, log_level="warning", **uvicorn_options()
        )
    )
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:
            if task.done():
                task.result()  # surfaces why it stopped
            await asyncio.sleep(0.01)
    yield f"ws://127.0.0.1:{port}"
    server.should_exit = True
    await task
