"""Sending simulated traffic: over HTTP to the collector or straight to ``dojo.events.raw``."""

from __future__ import annotations

import asyncio
import time
import zlib
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import orjson
from tqdm import tqdm

from dojo_pulse.simulation.traffic import Request, generate
from dojo_pulse.simulation.truth import Truth
from stream.models import RawBatch
from stream.settings import Settings

HTTP_WORKERS = 8  # more connections cost httpx more CPU per request than they win
MAX_ATTEMPTS = 20
MAX_RETRY_AFTER_S = 30.0
KAFKA_WINDOW = 500  # sends in flight before awaiting their acknowledgements


class SimulationError(RuntimeError):
    """The simulator could not deliver its traffic (collector or broker unreachable)."""


Send = Callable[[Request], Awaitable[None]]


def _retry_after(response: httpx.Response) -> float:
    try:
        return min(max(float(response.headers.get("retry-after", "1")), 0.0), MAX_RETRY_AFTER_S)
    except ValueError:
        return 1.0


async def _pace(
    requests: Sequence[Request], send: Send, *, fast: bool, workers: int, bar: tqdm[Any],
    counts: Counter[str],
) -> None:  # fmt: skip
    """Hand requests to workers on schedule; one queue per worker keeps sessions in order."""
    queues: list[asyncio.Queue[Request | None]] = [asyncio.Queue(64) for _ in range(workers)]

    async def work(queue: asyncio.Queue[Request | None]) -> None:
        while (request := await queue.get()) is not None:
            await send(request)
            bar.update(len(request.body["events"]))
            counts["dead_letter_expected"] += sum(1 for tag in request.expect if tag)
            counts["events_sent"] += len(request.body["events"])
            share = counts["dead_letter_expected"] / max(counts["events_sent"], 1)
            bar.set_postfix(dlq=f"{share:.1%}", retries=counts["retries"], refresh=False)

    tasks = [asyncio.create_task(work(q)) for q in queues]

    async def put(index: int, item: Request | None) -> None:
        queue, worker = queues[index], tasks[index]
        if not queue.full():
            queue.put_nowait(item)
            return
        # Wait for room; if this queue's worker dies meanwhile, surface its error instead.
        waiting = asyncio.ensure_future(queue.put(item))
        await asyncio.wait({waiting, worker}, return_when=asyncio.FIRST_COMPLETED)
        if not waiting.done():
            waiting.cancel()
            worker.result()  # a worker ends early only by raising

    try:
        began = time.monotonic()
        for request in requests:
            if not fast:
                delay = began + request.at_s - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)  # pacing to the schedule, not synchronisation
            _raise_failed(tasks)
            await put(zlib.crc32(request.session_id.encode()) % workers, request)
        for index in range(workers):
            await put(index, None)
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()


def _raise_failed(tasks: list[asyncio.Task[None]]) -> None:
    """Re-raise the error of a worker that stopped early (workers only end on a sentinel)."""
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            task.result()


def _http_sender(client: httpx.AsyncClient, url: str, origin: str, counts: Counter[str]) -> Send:
    async def send(request: Request) -> None:
        content = orjson.dumps(request.body)
        headers = {"user-agent": request.user_agent, "content-type": "application/json",
                   "origin": origin}  # fmt: skip
        for _ in range(MAX_ATTEMPTS):
            try:
                response = await client.post(url, content=content, headers=headers)
            except httpx.TransportError as exc:
                raise SimulationError(
                    f"Cannot reach the collector at {url} ({type(exc).__name__}); is it running?"
                ) from None
            counts["requests_sent"] += 1
            if response.status_code in (429, 503):
                counts["retries"] += 1
                counts[f"http_{response.status_code}"] += 1
                await asyncio.sleep(_retry_after(response))
                continue
            if 400 <= response.status_code < 500:
                counts["http_4xx"] += 1
            elif response.status_code >= 500:
                counts["http_5xx"] += 1
            return
        counts["gave_up"] += 1

    return send


async def _via_http(
    settings: Settings, requests: Sequence[Request], collector_url: str | None, fast: bool,
    bar: tqdm[Any], counts: Counter[str],
) -> None:  # fmt: skip
    base = collector_url or f"http://{settings.collector_host}:{settings.collector_port}"
    url = base.rstrip("/") + "/collect"
    origin = settings.site_origins[0] if settings.site_origins else base
    limits = httpx.Limits(max_connections=HTTP_WORKERS, max_keepalive_connections=HTTP_WORKERS)
    async with httpx.AsyncClient(timeout=httpx.Timeout(30.0), limits=limits) as client:
        send = _http_sender(client, url, origin, counts)
        await _pace(requests, send, fast=fast, workers=HTTP_WORKERS, bar=bar, counts=counts)


async def _via_kafka(
    settings: Settings, requests: Sequence[Request], fast: bool, bar: tqdm[Any],
    counts: Counter[str], start_ms: int | None = None,
) -> None:  # fmt: skip
    """Produce raw batches; with ``start_ms`` (a backfill) each is received at its own
    simulated time, so the past arrives as it would have then."""
    from aiokafka import AIOKafkaProducer
    from aiokafka.errors import KafkaError

    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka, acks="all", enable_idempotence=True,
        linger_ms=5, request_timeout_ms=15_000,
    )  # fmt: skip
    try:
        await asyncio.wait_for(producer.start(), timeout=20)
    except (KafkaError, OSError, TimeoutError) as exc:
        await producer.stop()
        raise SimulationError(
            f"Cannot reach Kafka at {settings.kafka} ({type(exc).__name__}); is the broker running?"
        ) from None
    pending: list[asyncio.Future[Any]] = []

    async def send(request: Request) -> None:
        received_at = (
            int(time.time() * 1000) if start_ms is None else start_ms + round(request.at_s * 1000)
        )
        raw = RawBatch(
            received_at=received_at, visitor_id=request.visitor_id,
            device=request.device, bot=request.bot, site=settings.site_id,
            events=request.body["events"],
        )  # fmt: skip
        value = orjson.dumps(raw.asdict())
        pending.append(
            await producer.send(settings.topic_raw, value, key=request.session_id.encode())
        )
        counts["requests_sent"] += 1
        if len(pending) >= KAFKA_WINDOW:
            batch = pending[:]
            pending.clear()
            await asyncio.gather(*batch)

    try:
        # One worker: the producer already batches, and one sender keeps every session in order.
        await _pace(requests, send, fast=fast, workers=1, bar=bar, counts=counts)
        await asyncio.gather(*pending)
    except KafkaError as exc:
        raise SimulationError(f"Kafka refused the traffic: {type(exc).__name__}: {exc}") from None
    finally:
        await producer.stop()


def run(
    settings: Settings, *, rate: float, duration_s: float, seed: int, invalid_ratio: float = 0.0,
    via: str = "http", truth_path: Path | None = None, fast: bool = False, progress: bool = True,
    collector_url: str | None = None, start_ms: int | None = None, experiments: bool = False,
) -> Truth:  # fmt: skip
    """Generate traffic and deliver it (paced in real time unless ``fast``); return its truth.

    ``start_ms``: a backfill of the past on a simulated clock (straight to Kafka, as fast as
    possible, each batch received at its simulated time); it must end before now.
    """
    if via not in ("http", "kafka"):
        raise ValueError(f"via must be 'http' or 'kafka', got {via!r}")
    now_ms = int(time.time() * 1000)
    backfill = start_ms is not None
    if start_ms is not None:
        if via != "kafka":
            raise ValueError("a backfill (--start) goes straight to Kafka: use --via kafka")
        if start_ms + duration_s * 1000 > now_ms:
            raise ValueError("a backfill (--start) must end before now: start earlier or shorten")
        fast = True
    # When sent as fast as possible the whole window lies in the recent past, so no event
    # arrives "from the future"; when paced, event times track the wall clock.
    elif fast:
        start_ms = now_ms - int(duration_s * 1000)
    else:
        start_ms = now_ms
    requests, truth = generate(seed, rate=rate, duration_s=duration_s, start_ms=start_ms,
                               invalid_ratio=invalid_ratio, experiments=experiments)  # fmt: skip
    total = sum(len(r.body["events"]) for r in requests)
    counts: Counter[str] = Counter()
    with tqdm(total=total, unit="ev", disable=not progress, desc=f"simulate via {via}") as bar:
        if via == "http":
            coro = _via_http(settings, requests, collector_url, fast, bar, counts)
        else:
            coro = _via_kafka(settings, requests, fast, bar, counts, start_ms if backfill else None)
        asyncio.run(coro)
    truth.delivery.update(counts)
    if truth_path is not None:
        truth.write(truth_path)
    return truth
