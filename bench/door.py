"""The front door beside its HTTP floor: the collector vs bare uvicorn + Starlette, with ``wrk``.

The floor is the same stack (uvicorn with the collector's options, Starlette) answering
``POST /collect`` by reading the body, parsing it and answering 202: nothing the collector
does beyond that (origin check, salt, rate limit, visitor id, Kafka with acks=all) is in it.
All run as child processes; ``wrk`` (2 threads, bench/door.lua) posts the same 3-event
``text/plain`` beacon batches from the site's origin to each in turn (the floor, the
collector in one process, the collector in several: ``DOJO_COLLECTOR_PROCESSES``) at every
connection count, for several repeats. The rate limit is raised so that it is
checked but never refuses. After the runs, every request a collector answered 202 must
be a message on the raw topic (counted from the end offsets), or the bench fails.

Run alone: ``.venv/bin/python -m bench.door [--runs 3] [--seconds 10] [--connections 16,64]``.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import click
import httpx
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bench.process import Children, cpu_seconds, private_redis, wait_port
from bench.report import Row
from bench.topics import Broker
from infra.process import free_port
from stream.settings import Settings
from stream.topics import ensure_topics

LUA = Path(__file__).with_suffix(".lua")
THREADS = 2
WARM_UP_S = 3
RATE_LIMIT = 100_000_000  # per minute: checked on every request, never reached
READY_S = 60.0
_ACCEPTED = re.compile(rb"^dojo_collector_requests_accepted_total ([0-9.e+]+)$", re.M)


async def _floor_collect(request: Request) -> Response:
    events = orjson.loads(await request.body())["events"]
    return JSONResponse({"accepted": len(events)}, status_code=202)


def floor_app() -> Starlette:
    """The floor: read the body, parse it, answer 202 like the collector does."""
    return Starlette(routes=[Route("/collect", _floor_collect, methods=["POST"])])


def serve_floor(port: int) -> None:
    """Serve the floor with the collector's uvicorn options (collector.app.serve)."""
    uvicorn.run(floor_app(), host="127.0.0.1", port=port, loop="uvloop", http="httptools",
                log_level="warning", access_log=False, proxy_headers=False,
                server_header=False)  # fmt: skip


@dataclass(frozen=True)
class Load:
    """What one ``wrk`` run measured."""

    requests: int
    seconds: float
    refused: int  # answers other than 2xx/3xx
    socket_errors: int
    p50_ms: float
    p99_ms: float
    cpu_s: float  # of the server process(es) during the run

    @property
    def per_s(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_us(self) -> float:
        return self.cpu_s / max(self.requests, 1) * 1e6


def wrk(port: int, connections: int, seconds: int, origin: str, pids: list[int]) -> Load:
    """Run ``wrk`` with bench/door.lua against ``port`` and read its summary line."""
    if shutil.which("wrk") is None:
        raise click.ClickException("wrk is missing: apt-get install wrk (make system)")
    argv = ["wrk", f"-t{THREADS}", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s",
            "-s", str(LUA), f"http://127.0.0.1:{port}/collect"]  # fmt: skip
    cpu0 = sum(cpu_seconds(p) for p in pids)
    env = {**os.environ, "DOOR_ORIGIN": origin}
    done = subprocess.run(argv, capture_output=True, text=True, check=True, env=env,
                          timeout=seconds + 60)  # fmt: skip
    cpu = sum(cpu_seconds(p) for p in pids) - cpu0
    line = next((x for x in done.stdout.splitlines() if x.startswith("DOOR ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary: {done.stdout[-500:]} {done.stderr[-500:]}")
    s = orjson.loads(line[5:])
    return Load(
        requests=s["requests"], seconds=s["duration_us"] / 1e6, refused=s["status_errors"],
        socket_errors=s["connect"] + s["read"] + s["write"] + s["timeout"],
        p50_ms=s["p50_us"] / 1000, p99_ms=s["p99_us"] / 1000, cpu_s=cpu,
    )  # fmt: skip


def children_of(pid: int) -> list[int]:
    """``pid`` and its child processes (a collector serving with several processes)."""
    found = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        kids = (task / "children").read_text().split()
        found += [p for k in kids for p in children_of(int(k))]
    return found


async def accepted(port: int) -> int:
    """Requests the collector answered 202, from its /metrics."""
    async with httpx.AsyncClient() as client:
        body = (await client.get(f"http://127.0.0.1:{port}/metrics")).content
    match = _ACCEPTED.search(body)
    if match is None:
        raise RuntimeError("the collector's /metrics has no accepted counter")
    return int(float(match.group(1)))


async def ready(port: int, deadline_s: float) -> None:
    """Wait until the collector's /healthz says Redis and Kafka are ready."""
    end = time.monotonic() + deadline_s
    async with httpx.AsyncClient() as client:
        while time.monotonic() < end:
            if (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                return
            await asyncio.sleep(0.2)  # polling interval, bounded by the deadline
    raise TimeoutError(f"the collector is not ready after {deadline_s:.0f} s")


async def measure(
    base: Settings, children: Children, broker: Broker, *, tag: str, runs: int, seconds: int,
    connections: tuple[int, ...], say: Callable[[str], None], processes: tuple[int, ...] = (1, 2),
) -> list[Row]:  # fmt: skip
    """Rows: req/s, p99 and CPU per request of floor and collector(s), and their ratios."""
    redis, url = private_redis(children)
    settings = replace(base, redis_url=url, topic_prefix=tag, collector_host="127.0.0.1",
                       rate_limit_per_minute=RATE_LIMIT)  # fmt: skip
    origin = settings.site_origins[0]
    await ensure_topics(settings)
    floor_port = free_port()
    floor = children.spawn("floor", [sys.executable, "-m", "bench.door", "--floor-port",
                                     str(floor_port)])  # fmt: skip
    wait_port(floor_port, READY_S, floor.proc)
    targets = {"floor": (floor_port, floor)}
    for n in processes:
        one = replace(settings, collector_port=free_port(), collector_processes=n)
        collector = children.dojo("collector", "collector", one)
        wait_port(one.collector_port, READY_S, collector.proc)
        await ready(one.collector_port, READY_S)
        targets[name_of(n)] = (one.collector_port, collector)
    loads: dict[tuple[str, int], list[Load]] = {}
    answered = 0  # 2xx the collectors gave, as wrk saw them
    for n in range(runs + 1):  # the first round warms everything up and is not reported
        for c in connections:
            for name, (port, child) in targets.items():
                secs = WARM_UP_S if n == 0 else seconds
                say(f"door: {name}, {c} connections, {'warm-up' if n == 0 else f'run {n}'}")
                load = await asyncio.to_thread(wrk, port, c, secs, origin, children_of(child.pid))
                if name != "floor":
                    if load.refused:
                        raise RuntimeError(f"{name} refused {load.refused} requests")
                    answered += load.requests
                if n > 0:
                    loads.setdefault((name, c), []).append(load)
    acked = sum([await accepted(port) for name, (port, _) in targets.items() if name != "floor"])
    for _, child in reversed(targets.values()):
        children.stop(child)  # a collector flushes nothing it acked: those are written already
    written = await broker.message_count([settings.topic_raw])
    children.stop(redis)
    await broker.delete_prefixed(tag)
    if written != acked or acked < answered:
        raise RuntimeError(
            f"LOST EVENTS: the collectors answered 202 {acked} times (wrk saw {answered}), "
            f"the raw topic holds {written} messages"
        )
    say(f"door: {acked:,} requests acked, {written:,} messages on the raw topic")
    return rows(loads, connections, [name_of(n) for n in processes], acked)


def name_of(processes: int) -> str:
    return f"collector ({processes} process{'es' if processes > 1 else ''})"


def rows(loads: dict[tuple[str, int], list[Load]], connections: tuple[int, ...],
         collectors: list[str], acked: int) -> list[Row]:  # fmt: skip
    """The result rows, ratios paired run by run (floor and collectors measured back to back)."""
    out: list[Row] = []
    for c in connections:
        floor = loads[("floor", c)]
        what = f"{c} conns, wrk {THREADS} threads, 3-event text/plain batches"
        for name in collectors:
            coll = loads[(name, c)]
            ratio = Row("door", f"{name} / bare-stack floor (1 process), req/s ({what})", "%",
                        [100 * a.per_s / b.per_s for a, b in zip(coll, floor, strict=True)],
                        target="≥ 50 %" if c == max(connections) else "")  # fmt: skip
            ratio.note = f"acks=all; all {acked:,} acked requests found on the raw topic"
            out.append(ratio)
        for name in [*collectors, "bare-stack floor"]:
            runs = loads[(name if name != "bare-stack floor" else "floor", c)]
            p50 = f"p50 {median(runs, 'p50_ms'):.1f} ms"
            out.append(Row("door", f"{name}: req/s ({c} conns)", "req/s",
                           [x.per_s for x in runs], note=p50))  # fmt: skip
            out.append(Row("door", f"{name}: p99 ({c} conns)", "ms", [x.p99_ms for x in runs]))
            out.append(Row("door", f"{name}: CPU per request ({c} conns)", "µs",
                           [x.cpu_us for x in runs]))  # fmt: skip
    return out


def median(runs: list[Load], attr: str) -> float:
    values = sorted(getattr(x, attr) for x in runs)
    return values[len(values) // 2]


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--runs", default=3, show_default=True, help="Repeats of each floor/collector pair.")
@click.option("--seconds", default=10, show_default=True, help="Length of each wrk run.")
@click.option("--connections", default="16,64", show_default=True, help="wrk connection counts.")
@click.option(
    "--processes",
    default="1,2",
    show_default=True,
    help="Collector process counts (DOJO_COLLECTOR_PROCESSES) to measure.",
)
@click.option("--floor-port", type=int, default=None, hidden=True)
def main(runs: int, seconds: int, connections: str, processes: str,
         floor_port: int | None) -> None:  # fmt: skip
    """The collector vs the bare uvicorn + Starlette floor, measured with wrk (needs Kafka)."""
    if floor_port is not None:
        serve_floor(floor_port)
        return
    conns = tuple(int(c) for c in connections.split(","))
    began = time.monotonic()

    def say(message: str) -> None:
        click.echo(f"[{time.monotonic() - began:6.1f} s] {message}", err=True)

    async def run() -> list[Row]:
        children, base = Children(), Settings.from_env()
        broker = Broker(base.kafka)
        await broker.start()
        try:
            return await measure(base, children, broker, tag=f"door-{os.getpid()}", runs=runs,
                                 seconds=seconds, connections=conns, say=say,
                                 processes=tuple(int(p) for p in processes.split(",")))  # fmt: skip
        finally:
            children.cleanup()
            await broker.close()

    for row in asyncio.run(run()):
        values = ", ".join(f"{v:,.1f}" for v in row.values)
        click.echo(f"{row.what}: median {row.median:,.1f} {row.unit} [{values}] {row.note}")


if __name__ == "__main__":
    main()
