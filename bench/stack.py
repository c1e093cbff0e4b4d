"""A whole private stack for end-to-end figures: worker, collector and live feed as children.

Kafka is the shared broker (topics under a private prefix); Redis is a private server, so
pipeline counters, dedupe keys and pub/sub start empty and nobody else's updates interfere.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import orjson
import websockets

from bench.process import Child, Children, free_port, private_redis, wait_port
from dojo_pulse.simulation import Request, generate
from stream.settings import Settings
from stream.topics import ensure_topics

SENDERS = 8  # concurrent HTTP posts: enough to keep one collector (one process) busy


@dataclass
class Stack:
    settings: Settings
    redis: Child
    worker: Child
    collector: Child
    live: Child

    @property
    def collect_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.collector_port}/collect"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.settings.live_port}/ws/live"

    def pids(self) -> dict[str, int]:
        return {c.name: c.pid for c in (self.redis, self.worker, self.collector, self.live)}


async def start(base: Settings, children: Children, tag: str, agents: tuple[str, ...]) -> Stack:
    """Start Redis, the worker, the collector and the live feed on private ports and topics."""
    redis, url = private_redis(children)
    settings = replace(
        base, redis_url=url, topic_prefix=tag, app_id=tag, agents=agents,
        collector_port=free_port(), live_port=free_port(), worker_web_port=free_port(),
        rate_limit_per_minute=1_000_000_000, data_dir=children.workdir / tag,
    )  # fmt: skip
    await ensure_topics(settings)
    worker = children.dojo("worker", "worker", settings)
    collector = children.dojo("collector", "collector", settings)
    live = children.dojo("live", "live", settings)
    wait_port(settings.collector_port, 30, collector.proc)
    wait_port(settings.live_port, 30, live.proc)
    return Stack(settings, redis, worker, collector, live)


def traffic(rate: float, duration_s: float, seed: int = 11) -> list[Request]:
    """Paced beacon requests with event times at the wall clock."""
    requests, _ = generate(seed, rate=rate, duration_s=duration_s, start_ms=int(time.time() * 1000))
    return requests


@dataclass
class Accepted:
    """Requests the collector accepted: (monotonic time, events accepted so far) in order."""

    marks: list[tuple[float, int]] = field(default_factory=list)
    events: int = 0
    refused: int = 0
    failed: int = 0  # connection errors


async def post(
    stack: Stack, requests: Sequence[Request], *, paced: bool, accepted: Accepted,
    origin: str | None = None,
) -> float:  # fmt: skip
    """Post ``requests`` (on their schedule, or as fast as possible); return seconds taken."""
    origin = origin or stack.settings.site_origins[0]
    queue: asyncio.Queue[Request | None] = asyncio.Queue(SENDERS * 4)
    limits = httpx.Limits(max_connections=SENDERS, max_keepalive_connections=SENDERS)

    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def sender() -> None:
            while (r := await queue.get()) is not None:
                try:
                    response = await client.post(
                        stack.collect_url, content=orjson.dumps(r.body),
                        headers={"user-agent": r.user_agent, "content-type": "application/json",
                                 "origin": origin},
                    )  # fmt: skip
                except httpx.TransportError:
                    accepted.failed += 1  # counted and reported; the load goes on
                    continue
                if response.status_code == 202:
                    accepted.events += len(r.body["events"])
                    accepted.marks.append((time.monotonic(), accepted.events))
                else:
                    accepted.refused += 1

        tasks = [asyncio.create_task(sender()) for _ in range(SENDERS)]
        began = time.monotonic()
        for r in requests:
            if paced and (delay := began + r.at_s - time.monotonic()) > 0:
                await asyncio.sleep(delay)  # pacing to the traffic schedule
            await queue.put(r)
        for _ in tasks:
            await queue.put(None)
        await asyncio.gather(*tasks)
        return time.monotonic() - began


class Watcher:
    """One admin WebSocket on a channel, noting when each update arrives and its count."""

    def __init__(self, stack: Stack, channel: str) -> None:
        self.stack, self.channel = stack, channel
        self.updates: list[tuple[float, int]] = []
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def __aenter__(self) -> Watcher:
        self._task = asyncio.create_task(self._listen())
        async with asyncio.timeout(15):
            await self._ready.wait()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _listen(self) -> None:
        token = self.stack.settings.admin_token.reveal()
        async with websockets.connect(
            self.stack.ws_url, additional_headers={"Authorization": f"Bearer {token}"}
        ) as ws:
            await ws.send(orjson.dumps({"subscribe": [self.channel]}).decode())
            self._ready.set()
            async for text in ws:
                now = time.monotonic()
                message: dict[str, Any] = orjson.loads(text)
                if message.get("channel") == self.channel and isinstance(message.get("data"), dict):
                    self.updates.append((now, processed(message["data"])))

    async def wait_for(self, count: int, deadline_s: float) -> bool:
        """Poll until an update reports at least ``count`` processed events."""
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            if self.updates and self.updates[-1][1] >= count:
                return True
            await asyncio.sleep(0.05)  # polling interval, bounded by the deadline
        return False


def processed(data: dict[str, Any]) -> int:
    """Events the pipeline has judged so far, from a ``pipeline`` snapshot."""
    return int(data.get("valid", 0)) + int(data.get("dead_lettered", 0))
