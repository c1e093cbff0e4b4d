"""Fan-out: one live feed, many subscribed WebSocket clients, one update published to all.

Per client-send: the live feed's CPU time (user + system, ``/proc/<pid>/stat``) from the
first publish until every client has received the last one, divided by the deliveries,
so it includes what the feed spends between updates (keepalive pings, timers); beside it,
the floor: a bare Python loop sending as many frames (``bench.send_floor``). Latency:
Redis publish -> client received. The clients run in this process on the same machine, so
latency includes their own scheduling; they parse frames themselves to stay cheap.

``python -m bench.fanout`` runs this section alone (no Kafka needed) and writes
``bench/results/fanout.md`` and ``fanout.json``.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import click
import orjson
from redis.asyncio import Redis
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.uri import parse_uri

from bench import report
from bench.latency import quantile
from bench.process import (
    Children,
    cpu_seconds,
    free_port,
    private_redis,
    raise_open_files,
    wait_port,
)
from bench.report import RESULTS, Row, fmt, machine, now_iso, spread
from bench.send_floor import measure as send_floor
from stream.models.keys import Keys
from stream.settings import Settings
from stream.sinks.publish import envelope

CHANNEL = "fanbench"
CONNECT_AT_ONCE = 200
PUBLISH_GAP_S = 0.25  # above the feed's 10 Hz per-client cap, so no update is coalesced away
SENDS_PER_PUBLISH_ASKED = 2_000  # small sizes publish more: CPU is read in 10 ms ticks
IDLE_S = 5.0
FLOOR_ROUNDS = 10


class FeedSocket(asyncio.Protocol):
    """One admin connection: handshake and outgoing frames by websockets' sans-I/O protocol.

    Incoming frames are parsed here: the feed sends small, final, unmasked, uncompressed
    frames, and websockets' general parser plus an asyncio task per connection cost this
    process about 60 µs per message (measured), so with 5,000 clients the bench's own
    clients, on the same two cores, set the latency and starved the feed.
    """

    def __init__(self, owner: Clients) -> None:
        self.owner = owner
        self.ws = ClientProtocol(parse_uri(owner.url))
        self.buffer = bytearray()
        self.open = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        request = self.ws.connect()
        request.headers["Authorization"] = f"Bearer {self.owner.token}"
        self.ws.send_request(request)
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.owner.closing:
            self.owner.failures.append(f"connection lost: {exc!r}")

    def data_received(self, data: bytes) -> None:
        if self.open:
            self._frames(data, time.time_ns())
            return
        self.ws.receive_data(data)
        for event in self.ws.events_received():
            if isinstance(event, Response) and event.status_code != 101:
                self.owner.failures.append(f"handshake refused: {event.status_code}")
        if self.ws.state is State.OPEN:
            self.open = True
            self.ws.send_text(orjson.dumps({"subscribe": [CHANNEL]}))
            self._flush()
            self.owner.subscribed += 1

    def _flush(self) -> None:
        assert self.transport is not None
        self.transport.write(b"".join(self.ws.data_to_send()))

    def _frames(self, data: bytes, now_ns: int) -> None:
        buf = self.buffer
        buf += data
        pos, end = 0, len(buf)
        while end - pos >= 2:
            first, length = buf[pos], buf[pos + 1]
            if first & 0x70 or length & 0x80:
                raise RuntimeError("the feed sent a compressed or masked frame")
            head = 2
            if length == 126:
                head, length = 4, int.from_bytes(buf[pos + 2 : pos + 4])
            elif length == 127:
                head, length = 10, int.from_bytes(buf[pos + 2 : pos + 10])
            if end - pos < head + length:
                break
            payload = bytes(buf[pos + head : pos + head + length])
            pos += head + length
            opcode = first & 0x0F
            if opcode == Opcode.TEXT:
                self.owner.on_text(payload, now_ns)
            elif opcode == Opcode.PING:
                pong = Frame(Opcode.PONG, payload).serialize(mask=True)
                assert self.transport is not None
                self.transport.write(pong)
        del buf[:pos]


class Clients:
    """``n`` subscribed admin sockets; they note the delay of every update received."""

    def __init__(self, url: str, token: str, n: int) -> None:
        self.url, self.token, self.n = url, token, n
        self.delays: list[float] = []
        self.received = 0
        self.subscribed = 0
        self.failures: list[str] = []
        self.closing = False
        self._sockets: list[FeedSocket] = []

    async def open(self, deadline_s: float) -> None:
        loop = asyncio.get_running_loop()
        uri = parse_uri(self.url)
        for start in range(0, self.n, CONNECT_AT_ONCE):
            batch = [
                loop.create_connection(lambda: FeedSocket(self), uri.host, uri.port)
                for _ in range(min(CONNECT_AT_ONCE, self.n - start))
            ]
            for _, sock in await asyncio.gather(*batch):
                self._sockets.append(sock)
            if not await self.until(lambda: self.subscribed >= len(self._sockets), deadline_s):
                raise RuntimeError(f"only {self.subscribed:,} clients subscribed in time")

    def on_text(self, payload: bytes, now_ns: int) -> None:
        message = orjson.loads(payload)
        data = message.get("data")
        if message.get("type") == "update" and isinstance(data, dict) and "sent_ns" in data:
            self.delays.append((now_ns - data["sent_ns"]) / 1e6)
            self.received += 1

    async def until(self, done: Callable[[], bool], deadline_s: float) -> bool:
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            if done():
                return True
            if self.failures:
                raise RuntimeError(f"a client failed: {self.failures[0]}")
            await asyncio.sleep(0.02)  # polling interval, bounded by the deadline
        return False

    async def close(self) -> None:
        self.closing = True
        for sock in self._sockets:
            if sock.transport is not None:
                sock.transport.close()
        await asyncio.sleep(0)  # let the transports run their close callbacks


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
            count = max(publishes, publishes * SENDS_PER_PUBLISH_ASKED // size)
            cpu = Row("fanout", f"{size:,} clients: live feed CPU per client-send", "µs",
                      target="≤ 10 µs at 5,000" if size == 5000 else "")  # fmt: skip
            p99 = Row("fanout", f"{size:,} clients: publish -> received p99", "ms")
            idle = Row("fanout", f"{size:,} clients: live feed CPU while idle", "% of a core")
            floor = Row("fanout", f"{size:,} clients: floor, a bare socket.send loop", "µs",
                        note="one process writing a frame of the same size to as many "
                        "loopback sockets (bench/send_floor.py)")  # fmt: skip
            sample = envelope(CHANNEL, {"sent_ns": time.time_ns(), "n": 0}, int(time.time() * 1000))
            say(f"fanout: the floor for {size:,} clients")
            t_floor = time.monotonic()
            floor.values += [send_floor(size, FLOOR_ROUNDS, len(sample)) for _ in range(runs)]
            floor.seconds = time.monotonic() - t_floor
            clients = Clients(f"ws://127.0.0.1:{settings.live_port}/ws/live",
                              settings.admin_token.reveal(), size)  # fmt: skip
            say(f"fanout: connecting {size:,} clients")
            t_open = time.monotonic()
            try:
                await clients.open(120)
                await asyncio.sleep(1.0)  # let subscriptions settle (they are acknowledged async)
                open_s = time.monotonic() - t_open
                for n in range(runs):
                    say(f"fanout: {size:,} clients, run {n + 1}/{runs}: {count} updates")
                    t0 = time.monotonic()
                    cpu0 = cpu_seconds(live.pid)
                    await asyncio.sleep(IDLE_S)  # connected, nothing published: keepalive only
                    idle.values.append((cpu_seconds(live.pid) - cpu0) / IDLE_S * 100)
                    clients.delays.clear()
                    before_received = clients.received
                    cpu0, mine0 = cpu_seconds(live.pid), os.times()
                    for i in range(count):
                        body = envelope(
                            CHANNEL, {"sent_ns": time.time_ns(), "n": i}, int(time.time() * 1000)
                        )
                        await redis.publish(Keys.of(settings).live(CHANNEL), body)
                        await asyncio.sleep(PUBLISH_GAP_S)  # publishing pace, not synchronisation
                    want = before_received + size * count
                    await clients.until(lambda: clients.received >= want, 60)  # noqa: B023
                    used = cpu_seconds(live.pid) - cpu0
                    mine = os.times()
                    sends = clients.received - before_received
                    cpu.values.append(used / max(sends, 1) * 1e6)
                    p99.values.append(quantile(clients.delays, 0.99))
                    cpu.seconds += time.monotonic() - t0
                    own = (mine.user + mine.system - mine0.user - mine0.system) / max(sends, 1)
                    cpu.note = (
                        f"{count} updates per run; clients' own CPU {own * 1e6:.0f} µs/receive"
                    )
                    p99.note = f"{sends:,}/{size * count:,} delivered; connect {open_s:.1f} s"
                p99.seconds = idle.seconds = cpu.seconds
            finally:
                await clients.close()
            rows += [cpu, floor, p99, idle]
    finally:
        await redis.aclose()
        children.stop(live)
        children.stop(redis_child)
    return rows


def markdown(rows: list[Row], meta: dict[str, Any]) -> str:
    """The fan-out rows as a Markdown table, with how they were made above it."""
    head = [
        "# Dojo Pulse fan-out benchmark",
        "",
        f"Run {meta['started']} on {meta['machine']}: `{meta['command']}`, {meta['runs']} runs "
        "per row. Median and spread (min-max) of the runs.",
        "",
        "| what ran | median | spread (min-max) | unit | runs | target | note |",
        "|---|---:|---|---|---:|---|---|",
    ]
    body = [
        f"| {r.what} | {fmt(r.median)} | {spread(r)} | {r.unit} | {len(r.values)} | "
        f"{r.target} | {r.note} |"
        for r in rows
    ]
    return "\n".join(head + body) + "\n"


def write(rows: list[Row], meta: dict[str, Any], directory: Path = RESULTS) -> Path:
    """Write ``fanout.md`` and ``fanout.json``; return the Markdown path."""
    return report.write(rows, meta, directory, name="fanout", render=markdown)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--sizes", default="100,1000,5000", show_default=True, help="Clients per row.")
@click.option("--runs", type=int, default=3, show_default=True, help="Runs per row.")
@click.option("--publishes", type=int, default=10, show_default=True,
              help="Updates per run (more for small sizes).")  # fmt: skip
def main(sizes: str, runs: int, publishes: int) -> None:
    """Run the fan-out section alone and write bench/results/fanout.md and fanout.json."""
    chosen = tuple(int(s) for s in sizes.split(",") if s.strip())
    began = time.monotonic()

    def say(message: str) -> None:
        click.echo(f"[{time.monotonic() - began:6.1f} s] {message}", err=True)

    meta: dict[str, Any] = {"started": now_iso(), "machine": machine(), "runs": runs}
    meta["command"] = (
        f"python -m bench.fanout --sizes {sizes} --runs {runs} --publishes {publishes}"
    )
    children = Children()
    try:
        rows = asyncio.run(measure(Settings.from_env(), children, sizes=chosen, runs=runs,
                                   publishes=publishes, say=say))  # fmt: skip
    finally:
        children.cleanup()
    path = write(rows, meta)
    click.echo(path.read_text())
    click.echo(f"written: {path} and {path.with_suffix('.json')}")


if __name__ == "__main__":
    main()
