"""Fan-out: one live feed, many subscribed WebSocket clients, one update published to all.

Per client-send: the live feed's CPU time (``/proc/<pid>/stat``) while it delivers the
updates, divided by the deliveries. Latency: Redis publish -> client received. The clients
run in this process on the same machine, so latency includes their own scheduling.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import time
from collections.abc import Callable
from dataclasses import replace

import orjson
import websockets
from redis.asyncio import Redis

from bench.latency import quantile
from bench.process import Children, cpu_seconds, free_port, private_redis, wait_port
from bench.report import Row
from stream.publish import LIVE_CHANNEL, envelope
from stream.settings import Settings

CHANNEL = "fanbench"
CONNECT_AT_ONCE = 200
PUBLISH_GAP_S = 0.5  # below the feed's 4 Hz per-client cap, so no update is coalesced away


def raise_open_files(wanted: int) -> int:
    """Lift the soft open-file limit towards ``wanted`` (children inherit it); return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class Clients:
    """``n`` subscribed admin sockets; each notes the delay of every update it receives."""

    def __init__(self, url: str, token: str, n: int) -> None:
        self.url, self.token, self.n = url, token, n
        self.delays: list[float] = []
        self.received = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._subscribed = 0

    async def open(self, deadline_s: float) -> None:
        for start in range(0, self.n, CONNECT_AT_ONCE):
            for _ in range(min(CONNECT_AT_ONCE, self.n - start)):
                self._tasks.append(asyncio.create_task(self._one()))
            await self.until(lambda: self._subscribed >= len(self._tasks), deadline_s)

    async def _one(self) -> None:
        async with websockets.connect(
            self.url, additional_headers={"Authorization": f"Bearer {self.token}"},
            open_timeout=60, ping_interval=None, close_timeout=1,
        ) as ws:  # fmt: skip
            await ws.send(orjson.dumps({"subscribe": [CHANNEL]}).decode())
            self._subscribed += 1
            async for text in ws:
                message = orjson.loads(text)
                data = message.get("data")
                if message.get("type") == "update" and isinstance(data, dict) and "sent_ns" in data:
                    self.delays.append((time.time_ns() - data["sent_ns"]) / 1e6)
                    self.received += 1

    async def until(self, done: Callable[[], bool], deadline_s: float) -> bool:
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            if done():
                return True
            failed = [t for t in self._tasks if t.done()]
            if failed and failed[0].exception() is not None:
                raise RuntimeError(f"a client failed: {failed[0].exception()!r}")
            await asyncio.sleep(0.02)  # polling interval, bounded by the deadline
        return False

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*self._tasks, return_exceptions=True)


async def measure(
    base: Settings, children: Children, *, sizes: tuple[int, ...], runs: int, publishes: int,
    say: Callable[[str], None],
) -> list[Row]:  # fmt: skip
    """CPU µs per client-send and delivery p99 for each number of clients."""
    limit = raise_open_files(max(sizes) * 2 + 1024)
    redis_child, url = private_redis(children)
    settings = replace(base, redis_url=url, live_port=free_port())
    live = children.dojo("live", "live", settings)
    wait_port(settings.live_port, 30, live.proc)
    redis = Redis.from_url(url)
    rows: list[Row] = []
    try:
        for size in sizes:
            if size * 2 + 64 > limit:
                rows.append(
                    Row(
                        "fanout",
                        f"{size:,} clients",
                        "µs CPU/send",
                        note=f"open-file limit {limit}",
                    )
                )
                continue
            cpu = Row("fanout", f"{size:,} clients: live feed CPU per client-send", "µs",
                      target="≤ 10 µs at 5,000" if size == 5000 else "")  # fmt: skip
            p99 = Row("fanout", f"{size:,} clients: publish -> received p99", "ms")
            clients = Clients(f"ws://127.0.0.1:{settings.live_port}/ws/live",
                              settings.admin_token.reveal(), size)  # fmt: skip
            say(f"fanout: connecting {size:,} clients")
            t_open = time.monotonic()
            try:
                await clients.open(120)
                await asyncio.sleep(1.0)  # let subscriptions settle (they are acknowledged async)
                open_s = time.monotonic() - t_open
                for n in range(runs):
                    say(f"fanout: {size:,} clients, run {n + 1}/{runs}")
                    t0 = time.monotonic()
                    clients.delays.clear()
                    before_received = clients.received
                    cpu0 = cpu_seconds(live.pid)
                    for i in range(publishes):
                        body = envelope(
                            CHANNEL, {"sent_ns": time.time_ns(), "n": i}, int(time.time() * 1000)
                        )
                        await redis.publish(LIVE_CHANNEL.format(CHANNEL), body)
                        await asyncio.sleep(PUBLISH_GAP_S)  # publishing pace, not synchronisation
                    want = before_received + size * publishes
                    await clients.until(lambda: clients.received >= want, 60)  # noqa: B023
                    used = cpu_seconds(live.pid) - cpu0
                    sends = clients.received - before_received
                    cpu.values.append(used / max(sends, 1) * 1e6)
                    p99.values.append(quantile(clients.delays, 0.99))
                    cpu.seconds += time.monotonic() - t0
                    p99.note = f"{sends:,}/{size * publishes:,} delivered; connect {open_s:.1f} s"
                p99.seconds = cpu.seconds
            finally:
                await clients.close()
            rows += [cpu, p99]
    finally:
        await redis.aclose()
        children.stop(live)
        children.stop(redis_child)
    return rows
