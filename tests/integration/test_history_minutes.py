"""Closed minutes of every channel reach ``history.minutes``; a killed worker resends the same.

Six minutes of simulated traffic go through a real worker (real Kafka and Redis); a few
later requests move every partition's clock past them. Every channel's closed minutes must
arrive, the traffic minutes' ``views`` must add up to the simulation's page views, and a
worker SIGKILLed and restarted must send its minutes again with the values sent before.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from dojo_pulse.simulation import Request, generate
from stream.ingest.bundles import partition_of
from stream.models import RawBatch
from stream.runtime.minutes_out import TOPIC, MinuteRecord, read_minute_record
from stream.settings import Settings
from stream.sketches.windows import MINUTE_MS, window_start
from tests.integration.conftest import Proc, group_lag, wait_for

pytestmark = pytest.mark.integration

DURATION_S = 360
METRIC_CHANNELS = ("traffic", "forms", "vitals", "funnels", "journeys", "heatmaps")


async def produce(
    settings: Settings, raws: list[tuple[str, RawBatch]], *, spread: bool = False
) -> None:
    """Send raw requests; ``spread``: each to the raw partition its session's events go to."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka, acks="all", linger_ms=5)
    await producer.start()
    try:
        sent = [
            await producer.send(
                settings.topic_raw, orjson.dumps(raw.asdict()), key=sid.encode(),
                partition=partition_of(sid, settings.partitions) if spread else None,
            )
            for sid, raw in raws
        ]  # fmt: skip
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


def simulated(settings: Settings, requests: list[Request], start_ms: int) -> list[Any]:
    # Received when sent in simulated time: the validate stage's minutes follow it too.
    return [
        (r.session_id, RawBatch(
            received_at=start_ms + int(r.at_s * 1000), visitor_id=r.visitor_id, device=r.device,
            bot=r.bot, site=settings.site_id, events=r.body["events"],
        ))
        for r in requests
    ]  # fmt: skip


def closers(settings: Settings, at: int, tag: str) -> list[tuple[str, RawBatch]]:
    """A request per partition (sent with ``spread``), at ``at``: every clock moves there."""
    out: list[tuple[str, RawBatch]] = []
    n = 0
    while {partition_of(sid, settings.partitions) for sid, _ in out} != set(
        range(settings.partitions)
    ):
        sid = f"closer-{tag}-{n:04d}"
        event = {"event_id": f"closer-{tag}-{n:04d}", "type": "page_view", "ts": at,
                 "session_id": sid, "url": "/", "props": {}, "referrer": ""}  # fmt: skip
        raw = RawBatch(received_at=at, visitor_id=f"v-{sid}", device="desktop", bot=False,
                       site=settings.site_id, events=[event])  # fmt: skip
        out.append((sid, raw))
        n += 1
    return out


async def read_minutes(settings: Settings, since: int = 0) -> tuple[list[MinuteRecord], int]:
    """Every record of the topic from offset ``since`` (in order), and the next offset."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(settings.topic(TOPIC), 0)
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
        consumer.seek(tp, since)
        out: list[MinuteRecord] = []
        position = since
        while position < end:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                for record in records:
                    key = record.key.decode() if record.key else ""
                    minute = read_minute_record(record.value)
                    assert key == f"{minute.channel}|{minute.start}|{minute.part}"
                    out.append(minute)
                    position = record.offset + 1
        return out, end
    finally:
        await consumer.stop()


def latest(records: list[MinuteRecord]) -> dict[tuple[str, int, int], dict[str, Any]]:
    """The newest summary per key: what compaction keeps."""
    return {(r.channel, r.start, r.part): r.tally.summary() for r in records}


def test_closed_minutes_of_every_channel_and_the_same_again_after_a_kill(
    stack_settings: Settings, start: Callable[..., Proc]
) -> None:
    settings = stack_settings
    now = int(time.time() * 1000)
    start_ms = window_start(now) - 10 * MINUTE_MS
    requests, truth_obj = generate(
        23, rate=20, duration_s=DURATION_S, start_ms=start_ms, invalid_ratio=0.03
    )
    requests = list(requests)
    truth = truth_obj.to_dict()
    views = sum(truth["page_views_by_url"].values())
    assert views > 100, "the simulation should produce real traffic"
    minutes = {
        window_start(e["ts"])
        for r in requests
        if not r.bot
        for e, reason in zip(r.body["events"], r.expect, strict=True)
        if not reason
    }

    worker = start(["worker"], settings)
    asyncio.run(produce(settings, simulated(settings, requests, start_ms)))
    asyncio.run(produce(settings, closers(settings, now, "a"), spread=True))

    def traffic_views() -> int:
        got = latest(asyncio.run(read_minutes(settings))[0])
        return sum(int(s["views"] or 0) for (c, _, _), s in got.items() if c == "traffic")

    wait_for(
        lambda: traffic_views() >= views or not worker.alive(), 120, f"{views} views in minutes"
    )
    assert worker.alive(), worker.output()
    wait_for(lambda: asyncio.run(group_lag(settings, settings.topic_events)) == 0, 60, "no lag")
    wait_for(
        lambda: (
            {c for c, _, _ in latest(asyncio.run(read_minutes(settings))[0])}
            >= {*METRIC_CHANNELS, "pipeline"}
        ),
        30,
        "every channel's minutes",
    )
    # Settled: the newest minutes came out with the last checkpoint; nothing more is due.
    before, end = asyncio.run(read_minutes(settings))
    sent = latest(before)
    traffic = {start for c, start, _ in sent if c == "traffic"}
    assert traffic == minutes  # every minute that saw an event, none of the open ones
    assert sum(int(s["views"] or 0) for (c, _, _), s in sent.items() if c == "traffic") == views
    pipeline = sum(int(s.get("accepted") or 0) for (c, _, _), s in sent.items() if c == "pipeline")
    assert pipeline == truth["totals"]["valid"]
    for channel in METRIC_CHANNELS:
        assert {start for c, start, _ in sent if c == channel} <= minutes, channel
    for channel, part in {(c, p) for c, _, p in sent}:
        assert 0 <= part < settings.partitions, (channel, part)

    # SIGKILL: no goodbye. The next worker restores the checkpoints; new requests (in a later,
    # still open minute, from new sessions) make every partition fold and send again.
    worker.stop(signal.SIGKILL)
    second = start(["worker"], settings)
    asyncio.run(produce(settings, closers(settings, now + 1, "b"), spread=True))

    def resent() -> set[str]:
        return {r.channel for r in asyncio.run(read_minutes(settings, end))[0]}

    wait_for(
        lambda: resent() >= set(METRIC_CHANNELS) or not second.alive(),
        120,
        "the restarted worker to send its closed minutes again",
    )
    assert second.alive(), second.output()
    again = asyncio.run(read_minutes(settings, end))[0]
    for record in again:
        key = (record.channel, record.start, record.part)
        assert key in sent, key  # only minutes closed before: the new ones are still open
        assert record.tally.summary() == sent[key], key
