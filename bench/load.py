"""The benchmark data set: simulated beacon requests as ``RawBatch`` JSON, loaded fast.

The same seed gives the same sessions, batch sizes and event mix; event times are placed in
the ``duration_s`` just before now, so every event is recent enough to be accepted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

import orjson
from aiokafka import AIOKafkaProducer

from dojo_pulse.simulation import generate
from stream.settings import Settings

SPAN_S = 600.0  # ten minutes of site traffic: ten one-minute windows per run
IN_FLIGHT = 2000  # sends awaited together; the producer batches them underneath


@dataclass(frozen=True)
class DataSet:
    """Serialised raw messages (key, value) and the event count they carry."""

    messages: list[tuple[bytes, bytes]]
    events: int
    page_views: int
    seed: int

    @property
    def events_per_message(self) -> float:
        return self.events / max(len(self.messages), 1)


def build(
    events: int, *, seed: int = 7, site: str = "dd-coder-dojo", now_ms: int | None = None
) -> DataSet:
    """About ``events`` valid-or-bot simulated events as raw collector messages."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    start_ms = now_ms - int(SPAN_S * 1000)
    requests, _ = generate(seed, rate=events / SPAN_S, duration_s=SPAN_S, start_ms=start_ms)
    messages = []
    total = views = 0
    for r in requests:
        body = {
            "received_at": start_ms + int(r.at_s * 1000),
            "visitor_id": r.visitor_id,
            "device": r.device,
            "bot": r.bot,
            "site": site,
            "events": r.body["events"],
            "v": 1,
        }
        messages.append((r.session_id.encode(), orjson.dumps(body)))
        total += len(r.body["events"])
        views += sum(1 for e in r.body["events"] if e.get("type") == "page_view")
    return DataSet(messages, total, views, seed)


async def produce(
    settings: Settings,
    topic: str,
    messages: list[tuple[bytes, bytes]],
    partitions: Sequence[int] | None = None,
) -> float:
    """Write ``messages`` to ``topic`` (into ``partitions``, if given) as fast as the broker
    takes them; return seconds."""
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka,
        acks=1,
        linger_ms=20,
        max_batch_size=512 * 1024,
        compression_type=None,  # lz4 off: the consumers measured should not pay for it
        request_timeout_ms=30_000,
    )
    await producer.start()
    began = time.perf_counter()
    try:
        pending: list[asyncio.Future[object]] = []
        for n, (key, value) in enumerate(messages):
            partition = None if partitions is None else partitions[n]
            pending.append(await producer.send(topic, value, key=key or None, partition=partition))
            if len(pending) >= IN_FLIGHT:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return time.perf_counter() - began
