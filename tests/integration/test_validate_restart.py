"""The validate stage across a graceful broker restart: it keeps producing, nothing lost or doubled.

A backlog of raw requests (one valid and one invalid event each) is in ``dojo.events.raw``
when the test's private broker is stopped with SIGTERM, so the stage has sends in flight
that wait for a leader longer than they may and fail. Those break its idempotent producer's
session (every later send on the partition is refused as out of order) unless the stage
sends them again through a new producer. After the restart more requests arrive; in the end
every valid event is in ``dojo.events`` and every invalid one in ``dojo.events.dlq``, each
from one source position only, and the stage's counters equal what was sent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import orjson
import pytest
import redis
from aiokafka import AIOKafkaProducer

from stream.ingest.bundles import batches_of
from stream.models.keys import Keys
from stream.models.raw import RawBatch
from stream.settings import Settings
from stream.sinks.producer import SEND_TIMEOUT_S
from stream.topics import ensure_topics
from tests.integration.conftest import PrivateKafka, Proc, read_topic, wait_for
from tests.integration.test_ingest_pipeline import page_view

pytestmark = pytest.mark.integration

BEFORE = 12_000  # requests in the backlog when the broker stops
AFTER = 500  # requests sent once it is back
DOWN_S = SEND_TIMEOUT_S + 5  # longer than a send may wait: the in-flight ones fail


def requests(run: str, first: int, n: int, now_ms: int) -> list[list[dict[str, Any]]]:
    """``n`` requests of two events: a valid page view and one of an unknown type."""
    return [
        [
            page_view(k, k % 50, now_ms, event_id=f"ok_{run}_{k}"),
            page_view(k, k % 50, now_ms, event_id=f"no_{run}_{k}", type="purchase"),
        ]
        for k in range(first, first + n)
    ]


async def produce(settings: Settings, bodies: list[list[dict[str, Any]]]) -> None:
    """Put the requests on the raw topic as the collector would, and wait for Kafka."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka, acks="all", linger_ms=5)
    await producer.start()
    try:
        sent = []
        for events in bodies:
            raw = RawBatch(
                received_at=int(time.time() * 1000), visitor_id="v" * 32, device="desktop",
                bot=False, site=settings.site_id, events=events,
            )  # fmt: skip
            key = events[0]["session_id"].encode()
            sent.append(await producer.send(settings.topic_raw, orjson.dumps(raw.asdict()), key))
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


def by_position(values: list[tuple[Any, Any]], id_of: Callable[[Any], str]) -> dict[str, set[Any]]:
    """Event id -> the source positions it was written from (a re-sent copy adds none)."""
    out: dict[str, set[Any]] = {}
    for item, position in values:
        out.setdefault(id_of(item), set()).add(position)
    return out


def test_validate_stage_survives_a_graceful_broker_restart_exactly(
    private_kafka: PrivateKafka, stack_settings: Settings, start: Callable[..., Proc]
) -> None:
    settings = replace(stack_settings, kafka=private_kafka.bootstrap, agents=("validate",))
    asyncio.run(ensure_topics(settings))
    worker = start(["worker"], settings)
    now_ms = int(time.time() * 1000)
    run = f"{now_ms}"
    asyncio.run(produce(settings, requests(run, 0, 1, now_ms)))
    asyncio.run(
        read_topic(settings, settings.topic_events, lambda v: len(v) > 0, deadline_s=60, settle_s=0)
    )

    asyncio.run(produce(settings, requests(run, 1, BEFORE - 1, now_ms)))
    private_kafka.stop()  # the stage is still working through the backlog
    time.sleep(DOWN_S)  # the outage itself is what is tested: sends in flight wait it out
    private_kafka.start()
    asyncio.run(produce(settings, requests(run, BEFORE, AFTER, now_ms)))
    total = BEFORE + AFTER

    bundles = asyncio.run(
        read_topic(
            settings,
            settings.topic_events,
            lambda v: sum(len(b["events"]) for b in batches_of(v)) >= total,
            deadline_s=120,
        )
    )
    letters = asyncio.run(
        read_topic(settings, settings.topic_dlq, lambda v: len(v) >= total, deadline_s=60)
    )
    assert worker.alive(), worker.output()
    said = worker.log.read_text()
    assert "validate: Kafka refused a send" in said, "the outage broke no send: nothing tested"
    assert "validate: Kafka takes sends again" in said, said

    clean = by_position(
        [
            (e, (b["source_partition"], b["source_offset"]))
            for b in batches_of(bundles)
            for e in b["events"]
        ],
        lambda e: e["event_id"],
    )
    dead = by_position(
        [(d, (d["source_partition"], d["source_offset"], d["index"])) for d in letters],
        lambda d: orjson.loads(d["payload"])["event_id"],
    )
    assert set(clean) == {f"ok_{run}_{k}" for k in range(total)}
    assert set(dead) == {f"no_{run}_{k}" for k in range(total)}
    twice = [i for i, positions in (clean | dead).items() if len(positions) > 1]
    assert not twice, f"{len(twice)} events accepted from two positions, e.g. {twice[:3]}"
    assert {d["reason"] for d in letters} == {"type"}

    keys = Keys.of(settings)
    r = redis.Redis.from_url(settings.redis_url, decode_responses=True)

    def counted() -> dict[str, int]:
        return {str(k): int(v) for k, v in r.hgetall(keys.pipeline).items()}

    wait_for(lambda: counted().get("valid", 0) >= total, 30, "the stage's counters")
    totals = counted()
    assert (totals["valid"], totals["dead_lettered"]) == (total, total), totals
