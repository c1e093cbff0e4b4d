"""Redis flushed mid-run under a real collector and worker: the numbers do not move.

Known visitors send known event ids; Redis loses everything; the same visitors send 100 of
those ids again and some new traffic. The re-sent ids must be dead-lettered as duplicates
(the dedupe claims are restored from ``dojo.events``), the returning visitors must keep
their ids (the collector writes the day's salt back), and the live traffic snapshot and
the pipeline counters must equal the ground truth.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest
import redis
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client.parser import text_string_to_metric_families

from collector.salt import salt_key
from stream.ingest.reclaim import AcceptedFromKafka
from stream.models.keys import Keys
from stream.settings import Settings
from stream.sketches.windows import day_start
from tests.integration.conftest import Proc, group_lag, read_topic, wait_for

pytestmark = pytest.mark.integration

VISITORS = 30
FIRST_REQUESTS = 5  # per visitor, two page views each
RESENT = 100
DAY_MS = 86_400_000


def user_agent(n: int) -> str:
    return (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
        f"(KHTML, like Gecko) Chrome/120.0.{n}.0 Safari/537.36"
    )


def page_view(event_id: str, visitor: int) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": "page_view",
        "ts": int(time.time() * 1000),
        "session_id": f"sess_loss_{visitor:04d}",
        "url": f"/learn/{event_id[-3:]}",
        "props": {},
    }


def send(url: str, origin: str, visitor: int, events: list[dict[str, Any]]) -> None:
    reply = httpx.post(
        f"{url}/collect",
        content=orjson.dumps({"events": events}),
        headers={"content-type": "text/plain", "origin": origin, "user-agent": user_agent(visitor)},
        timeout=10,
    )
    assert reply.status_code == 202, reply.text


def traffic_today(settings: Settings) -> dict[str, Any]:
    raw = redis.Redis.from_url(settings.redis_url).get(Keys.of(settings).snapshot("traffic"))
    return {} if raw is None else orjson.loads(raw)["data"].get("today", {})


def pipeline_totals(settings: Settings) -> dict[str, int]:
    raw = redis.Redis.from_url(settings.redis_url).hgetall(Keys.of(settings).pipeline)
    return {k.decode(): int(v) for k, v in raw.items()}


async def stable_members(settings: Settings) -> int:
    """Members of the metric agents' consumer group once it is stable (0 while it is not)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka)
    await admin.start()
    try:
        [response] = await admin.describe_consumer_groups([settings.app_id])
        [group] = response.to_object()["groups"]
        return len(group["members"]) if group["state"] == "Stable" else 0
    finally:
        await admin.close()


async def accepted_chunks(settings: Settings, **kwargs: Any) -> list[list[tuple[str, str, int]]]:
    return [list(chunk) async for chunk in AcceptedFromKafka(settings, **kwargs).chunks()]


def test_a_redis_flush_changes_no_number(
    stack_settings: Settings, start: Callable[..., Proc], collector_url: str
) -> None:
    settings = stack_settings
    if day_start(int(time.time() * 1000) + 120_000) != day_start(int(time.time() * 1000)):
        time.sleep(130)  # the run must stay inside one UTC day: "today" is its ground truth
    origin = settings.site_origins[0]
    # A deployment that ran yesterday too: today's first salt, made late, is not a reset.
    yesterday = salt_key(Keys.of(settings), time.time() - 86_400)
    redis.Redis.from_url(settings.redis_url).set(yesterday, "ab" * 32, ex=3600)
    worker = start(["worker"], settings)
    first = {
        n: [f"evt_loss_{n:03d}_{k:03d}" for k in range(FIRST_REQUESTS * 2)] for n in range(VISITORS)
    }
    for k in range(FIRST_REQUESTS):
        for n in range(VISITORS):
            send(collector_url, origin, n, [page_view(i, n) for i in first[n][2 * k : 2 * k + 2]])
    views = VISITORS * FIRST_REQUESTS * 2
    wait_for(
        lambda: traffic_today(settings).get("views") == views or not worker.alive(),
        120,
        f"the worker to count {views} views (today: {traffic_today(settings)})",
    )
    assert worker.alive(), worker.output()

    # What a rebuild reads back: every accepted id once, with the raw message that owns it,
    # handed out in bounded chunks; nothing outside the window.
    chunks = asyncio.run(accepted_chunks(settings, chunk=64))
    assert chunks and all(len(chunk) <= 64 for chunk in chunks)
    restored = [item for chunk in chunks for item in chunk]
    assert sorted(event_id for event_id, _, _ in restored) == sorted(
        i for ids in first.values() for i in ids
    )
    assert all(0 < left <= settings.dedupe_hours * 3600 for _, _, left in restored)
    assert all(owner.count(":") == 1 for _, owner, _ in restored)
    later = asyncio.run(accepted_chunks(settings, clock=lambda: time.time() + 26 * 3600))
    assert later == []

    redis.Redis.from_url(settings.redis_url).flushall()

    resent = [i for ids in first.values() for i in ids][:RESENT]
    by_visitor: dict[int, list[str]] = {}
    for event_id in resent:
        by_visitor.setdefault(int(event_id.split("_")[2]), []).append(event_id)
    for n in range(VISITORS):
        again = [page_view(i, n) for i in by_visitor.get(n, [])]
        send(collector_url, origin, n, [*again, page_view(f"evt_more_{n:03d}_000", n)])
        send(collector_url, origin, n, [page_view(f"evt_more_{n:03d}_001", n)])
    views += VISITORS * 2

    def letters() -> list[dict[str, Any]]:
        return asyncio.run(
            read_topic(
                settings, settings.topic_dlq, lambda v: len(v) >= RESENT, deadline_s=5, settle_s=0.5
            )
        )

    wait_for(lambda: len(letters()) >= RESENT or not worker.alive(), 120, "the duplicates")
    wait_for(
        lambda: traffic_today(settings).get("views", 0) >= views or not worker.alive(),
        60,
        f"the worker to count {views} views (today: {traffic_today(settings)})",
    )
    assert worker.alive(), worker.output()
    dead = letters()
    assert Counter(d["reason"] for d in dead) == {"duplicate": RESENT}
    assert sorted(orjson.loads(d["payload"])["event_id"] for d in dead) == sorted(resent)

    today = traffic_today(settings)
    assert today["views"] == views
    assert today["visitors"] == VISITORS  # the same people, not a second id each
    assert today["sessions"] == VISITORS
    wait_for(
        lambda: pipeline_totals(settings).get("valid") == views,
        30,
        f"the pipeline counters to catch up ({pipeline_totals(settings)})",
    )
    totals = pipeline_totals(settings)
    assert totals["valid"] == views
    assert totals["dead_lettered"] == RESENT
    assert totals["reason:duplicate"] == RESENT
    processed = redis.Redis.from_url(settings.redis_url).get(Keys.of(settings).events_processed)
    assert int(processed or 0) == views + RESENT

    # The salt was written back, not made anew: nothing flagged, nothing counted.
    assert not redis.Redis.from_url(settings.redis_url).keys(Keys.of(settings).salt_reset("*"))
    families = {
        f.name: f
        for f in text_string_to_metric_families(httpx.get(f"{collector_url}/metrics").text)
    }
    assert families["dojo_visitor_salt_resets"].samples[0].value == 0


def test_after_a_flush_every_workers_partitions_count_again(
    stack_settings: Settings, start: Callable[..., Proc], collector_url: str
) -> None:
    settings = stack_settings  # two partitions: one per worker
    if day_start(int(time.time() * 1000) + 120_000) != day_start(int(time.time() * 1000)):
        time.sleep(130)  # the run must stay inside one UTC day
    workers = [start(["worker"], settings) for _ in range(2)]
    wait_for(
        lambda: asyncio.run(stable_members(settings)) == 2 or not all(w.alive() for w in workers),
        120,
        "both workers to hold partitions",
    )
    assert all(w.alive() for w in workers), [w.output() for w in workers]
    origin = settings.site_origins[0]
    for n in range(VISITORS):  # sessions spread over both partitions
        send(collector_url, origin, n, [page_view(f"evt_two_{n:03d}_{k:03d}", n) for k in range(3)])
    views = VISITORS * 3
    wait_for(
        lambda: traffic_today(settings).get("views") == views,
        120,
        f"both workers' partitions in the snapshot (today: {traffic_today(settings)})",
    )
    # Everything checkpointed (agents commit only what a checkpoint holds): from now on no
    # event is pending, so no checkpoint would be written again by itself.
    wait_for(
        lambda: asyncio.run(group_lag(settings, settings.topic_events)) == 0,
        60,
        "the clean topic to be fully committed",
    )
    redis.Redis.from_url(settings.redis_url).flushall()
    flushed_ms = int(time.time() * 1000)

    def republished() -> dict[str, Any]:
        raw = redis.Redis.from_url(settings.redis_url).get(Keys.of(settings).snapshot("traffic"))
        body = orjson.loads(raw) if raw is not None else {"ts": 0}
        return body["data"]["today"] if body["ts"] > flushed_ms + 2000 else {}

    # No new event: each worker must put its own quiet partitions back for the other's merge.
    wait_for(
        lambda: republished().get("views") == views,
        30,
        f"the snapshot to count every partition again (today: {republished()})",
    )
    assert republished()["visitors"] == VISITORS
    assert all(w.alive() for w in workers), [w.output() for w in workers]
