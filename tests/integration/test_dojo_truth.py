"""A term's dojo traffic through the real pipeline, the catalogue from ``dojo.content``, a worker
killed mid-stream: every dojo figure equals the simulator's ground truth, each notice sent once."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from dojo_pulse.simulation import generate, site
from stream.ingest.sanitize import scrub_path
from stream.settings import Settings
from stream.sketches.windows import day_start
from tests.integration.conftest import Proc, group_lag, wait_for
from tests.integration.test_ground_truth import produce, published_at, snapshot

pytestmark = pytest.mark.integration

RATE = 100
DURATION_S = 240
DAY_MS = 86_400_000


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def catalogue(now: int) -> list[tuple[str, dict[str, Any] | None]]:
    """The content service's live snapshots (flat fields, as ``dojo.content`` carries them)."""
    items: list[tuple[str, dict[str, Any] | None]] = []
    for n, page in enumerate(site.EVENT_PAGES):
        starts = now + (n - 3) * 7 * DAY_MS  # four past Saturdays, four to come
        items.append((page.item_id, {
            "id": page.item_id, "type": "event", "revision": 1, "title": page.title,
            "starts_at": iso(starts), "ends_at": iso(starts + 2 * 3_600_000),
            "registration_closes": iso(starts - DAY_MS // 2), "capacity": site.CAPACITY[page.item_id],
            "age_min": 7, "age_max": 12 if n % 2 else 17, "tags": [page.topic], "status": "scheduled",
        }))  # fmt: skip
    for page in site.RESOURCE_PAGES:
        items.append((page.item_id, {"id": page.item_id, "type": "resource", "revision": 1,
                                     "title": page.title, "tags": [page.topic]}))  # fmt: skip
    items.append(("event:withdrawn", {"title": "Withdrawn", "capacity": 1,
                                      "starts_at": iso(now + DAY_MS)}))  # fmt: skip
    items.append(("event:withdrawn", None))  # unpublished: a tombstone
    return items


async def publish_catalogue(
    settings: Settings, items: list[tuple[str, dict[str, Any] | None]]
) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka)
    await admin.start()
    try:  # as the content service's topic spec makes it (compacted, one partition)
        with contextlib.suppress(TopicAlreadyExistsError):
            config = {"cleanup.policy": "compact", "retention.ms": "-1"}
            await admin.create_topics(
                [NewTopic(settings.topic("content"), 1, 1, topic_configs=config)]
            )
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka, acks="all")
    await producer.start()
    try:
        for key, value in items:
            body = None if value is None else orjson.dumps(value)
            await producer.send_and_wait(settings.topic("content"), body, key=key.encode())
    finally:
        await producer.stop()


async def alerts(settings: Settings) -> list[dict[str, Any]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(settings.topic("alerts"), 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        got = await consumer.getmany(tp, timeout_ms=2000)
        return [orjson.loads(r.value) for r in got.get(tp, [])]
    finally:
        await consumer.stop()


def test_dojo_figures_equal_ground_truth_across_a_worker_crash(
    stack_settings: Settings, start: Callable[..., Proc]
) -> None:
    settings = replace(stack_settings, agents=("validate", "dojo"))
    now = int(time.time() * 1000)
    start_ms = max(now - DURATION_S * 1000, day_start(now) + 1)
    duration_s = max(1.0, (now - start_ms) / 1000 - 1)
    requests, truth_obj = generate(23, rate=RATE, duration_s=duration_s, start_ms=start_ms,
                                   invalid_ratio=0.05)  # fmt: skip
    truth = truth_obj.to_dict()["dojo"]
    tickets = sum(row["tickets"] for row in truth["events"].values())
    assert tickets > 50 and any(row["walk_ins"] for row in truth["events"].values())
    asyncio.run(publish_catalogue(settings, catalogue(now)))

    first = start(["worker"], settings)
    asyncio.run(produce(settings, list(requests)))
    wait_for(
        lambda: (snapshot(settings, "dojo").get("registrations", {}).get("totals", {})
                 .get("tickets", 0) > 0) or not first.alive(),
        90, "the first worker to count some tickets",
    )  # fmt: skip
    assert first.alive(), first.output()
    first.stop(signal.SIGKILL)
    second = start(["worker"], settings)

    def counted() -> int:
        return int(snapshot(settings, "dojo").get("registrations", {}).get("totals", {}).get(
            "tickets", 0))  # fmt: skip

    wait_for(lambda: counted() >= tickets or not second.alive(), 180,
             f"the restarted worker to reach {tickets} tickets (at {counted()})")  # fmt: skip
    assert second.alive(), second.output()
    wait_for(lambda: asyncio.run(group_lag(settings, settings.topic_events)) == 0, 90,
             "the clean topic to be fully committed")  # fmt: skip
    caught_up = int(time.time() * 1000)
    wait_for(lambda: published_at(settings, "dojo") > caught_up, 30, "a dojo snapshot after")

    dojo = snapshot(settings, "dojo")
    keep = ("registrations", "tickets", "cancellations", "cancelled", "arrived", "walk_ins",
            "attended", "no_shows")  # fmt: skip
    rows = {row["id"]: row for row in dojo["registrations"]["events"]}
    got = {eid: {k: row[k] for k in keep} for eid, row in rows.items() if row["last_ts"]}
    assert got == truth["events"]
    for eid, row in rows.items():  # the catalogue joined: capacity and fill from dojo.content
        assert row["capacity"] == site.CAPACITY[eid]
        assert row["fill"] == pytest.approx(row["net_tickets"] / site.CAPACITY[eid], abs=1e-4)
    assert "event:withdrawn" not in rows
    resources = {r["id"]: {"views": r["views"], "downloads": r["downloads"]}
                 for r in dojo["resources"]["resources"]}  # fmt: skip
    assert resources == truth["resources"]
    assert {r["title"] for r in dojo["resources"]["resources"]} <= {
        p.title for p in site.RESOURCE_PAGES
    }
    for name, given in truth["sources"].items():
        counts = given
        if name == "entry":  # paths as the validate stage keeps them (long slugs read as tokens)
            scrubbed: Counter[str] = Counter()
            for path, n in given.items():
                scrubbed[scrub_path(path)] += n
            counts = dict(scrubbed)
        top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
        assert [
            (s["name"], s["registrations"]) for s in dojo["registrations"]["sources"][name]
        ] == top

    # Every upcoming event at 80 % or more has exactly one notice, the crash notwithstanding.
    full = {eid for eid, row in rows.items() if row["upcoming"] and row["fill"] >= 0.8}
    assert full, "the simulated run books some upcoming event to 80 %"
    sent = [a for a in asyncio.run(alerts(settings)) if a["kind"] == "capacity"]
    assert sorted(a["metric"] for a in sent) == sorted(f"fill {eid}" for eid in full)
    assert all("% full" in a["reason"] for a in sent)
