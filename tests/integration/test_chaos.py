"""Every fault the product claims to survive, in one run, under simulated traffic.

A term's worth of simulated site traffic goes through the real pipeline (private broker,
collector, worker) while the test injects, in turn: poison pills and a burst of hostile
requests through the collector, a graceful broker restart in the middle of that burst, a
Redis FLUSHALL followed by re-sent event ids, and a SIGKILL of the worker. At the end every
number must equal the simulator's ground truth plus what the test itself sent, and the
pipeline must still take a valid event.
"""

from __future__ import annotations

import asyncio
import random
import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import orjson
import pytest
import redis

from dojo_pulse.simulation import generate
from stream.ingest.bundles import batches_of
from stream.settings import Settings
from stream.sketches.windows import day_start
from stream.topics import ensure_topics
from tests.integration.conftest import (
    PrivateKafka,
    Proc,
    group_lag,
    healthy,
    read_topic,
    wait_for,
)
from tests.integration.test_ground_truth import produce, published_at, snapshot

pytestmark = pytest.mark.integration

SEED = 29
RATE = 60  # simulated events per second
DURATION_S = 150
HOSTILE = 1_500  # hostile requests in the burst (the 20,000-request corpus is test_fuzz.py)
IN_FLIGHT = 16
DOWN_S = 8.0  # longer than the producer's request timeout: the case that used to break it
CHECK_PAGE = "/chaos-check"
RESENT = 100
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0"

# Each breaks exactly one rule of the contract, so each event must end as a dead letter.
BREAKS: list[tuple[str, Any]] = [
    ("props", {"name": [], "value": 1}),  # the poison pill of web_vital
    ("props", {"name": {"LCP": 1}, "value": 1}),
    ("event_id", []),
    ("event_id", {"a": None}),
    ("ts", "yesterday"),
    ("ts", 1.5),
    ("type", 7),
    ("type", ["page_view"]),
    ("url", None),
    ("url", ["/"]),
    ("props", []),
    ("props", {"title": {"$gt": ""}}),
    ("referrer", 12),
    ("extra", "<img src=x onerror=alert(1)>"),
]


@dataclass
class Burst:
    """What the hostile burst saw: events in accepted requests, every answer's status."""

    accepted_events: int = 0
    statuses: Counter[int] = field(default_factory=Counter)


def hostile_event(n: int, ts: int) -> dict[str, Any]:
    name, value = BREAKS[n % len(BREAKS)]
    event: dict[str, Any] = {
        "event_id": f"chaos_{n:07d}",
        "type": "web_vital" if name == "props" and "name" in value else "page_view",
        "ts": ts,
        "session_id": f"sess_chaos_{n:07d}",  # unique: a letter's payload names its event
        "url": "/events",
        "props": {},
    }
    event[name] = value
    return event


def hostile_body(rng: random.Random, n: int, ts: int) -> tuple[bytes, int]:
    """A request body and the number of events in it if the collector takes it."""
    roll = rng.random()
    if roll < 0.1:
        return rng.randbytes(rng.randrange(1, 200)), 0  # not JSON: 400
    if roll < 0.15:
        return b'{"events": [' + b"[" * 200 + b"]" * 200 + b"]}", 0  # too deep: 400
    events = [hostile_event(n * 4 + k, ts) for k in range(rng.randrange(1, 4))]
    return orjson.dumps({"events": events}), len(events)


async def burst(url: str, origin: str, broker: PrivateKafka, seed: int) -> Burst:
    """Send the hostile burst, retrying 503s like the beacon; restart the broker meanwhile."""
    rng = random.Random(seed)
    ts = int(time.time() * 1000)
    bodies = [hostile_body(rng, n, ts) for n in range(HOSTILE)]
    pending = iter(bodies)
    seen = Burst()
    headers = {"content-type": "text/plain", "user-agent": BROWSER, "origin": origin}

    async def beacon(client: httpx.AsyncClient) -> None:
        for body, events in pending:
            while True:
                try:
                    status = (
                        await client.post("/collect", content=body, headers=headers)
                    ).status_code
                except httpx.HTTPError:
                    status = 0
                seen.statuses[status] += 1
                if status not in (0, 503):
                    break
                await asyncio.sleep(0.5)  # the beacon's back-off (shortened)
            assert status != 500, "the collector must never answer 500"
            if status == 202:
                seen.accepted_events += events

    async def restart() -> None:
        while sum(seen.statuses.values()) < HOSTILE // 4:
            await asyncio.sleep(0.05)
        await asyncio.to_thread(broker.stop)
        await asyncio.sleep(DOWN_S)  # the fault's duration, not a wait for an event
        await asyncio.to_thread(broker.start)

    async with httpx.AsyncClient(base_url=url, timeout=20) as client:
        await asyncio.gather(restart(), *(beacon(client) for _ in range(IN_FLIGHT)))
    return seen


def check_view(n: int) -> dict[str, Any]:
    return {"event_id": f"check_{n:05d}", "type": "page_view", "ts": int(time.time() * 1000),
            "session_id": "sess_chaos_check", "url": CHECK_PAGE, "props": {}}  # fmt: skip


def post_views(url: str, origin: str, views: list[dict[str, Any]]) -> None:
    for start_at in range(0, len(views), 20):
        reply = httpx.post(
            f"{url}/collect",
            content=orjson.dumps({"events": views[start_at : start_at + 20]}),
            headers={"content-type": "text/plain", "user-agent": BROWSER, "origin": origin},
        )
        assert reply.status_code == 202, reply.text


def counting(settings: Settings, worker: Proc) -> None:
    """Wait until the worker has published a traffic snapshot with some views."""
    wait_for(
        lambda: (
            snapshot(settings, "traffic").get("today", {}).get("views", 0) > 0 or not worker.alive()
        ),
        120,
        "the worker to count views",
    )
    assert worker.alive(), worker.output()


def letters_by_position(settings: Settings) -> dict[tuple[int, int, int], dict[str, Any]]:
    """Dead letters by source position (a letter written twice after a crash counts once)."""
    letters = asyncio.run(read_topic(settings, settings.topic_dlq, lambda _v: True, 10, 2.0))
    return {(d["source_partition"], d["source_offset"], d["index"]): d for d in letters}


def test_every_number_survives_every_fault_in_one_run(
    private_kafka: PrivateKafka, stack_settings: Settings, start: Callable[..., Proc]
) -> None:
    settings = replace(stack_settings, kafka=private_kafka.bootstrap)
    origin = "http://localhost:8000"
    assert origin in settings.site_origins
    asyncio.run(ensure_topics(settings))
    now = int(time.time() * 1000)
    start_ms = max(now - DURATION_S * 1000, day_start(now) + 1)
    requests, truth_obj = generate(
        SEED,
        rate=RATE,
        duration_s=max(1.0, (now - start_ms) / 1000 - 1),
        start_ms=start_ms,
        invalid_ratio=0.05,
    )
    requests = list(requests)
    truth = truth_obj.to_dict()
    quarter = len(requests) // 4
    chunks = [requests[i * quarter : (i + 1) * quarter] for i in range(3)] + [
        requests[3 * quarter :]
    ]

    collector = start(["collector"], settings)
    worker = start(["worker"], settings)
    url = f"http://{settings.collector_host}:{settings.collector_port}"
    wait_for(lambda: healthy(f"{url}/healthz") or not collector.alive(), 30, "the collector")

    # 1. Traffic, then poison pills and a hostile burst with a graceful broker restart in it.
    asyncio.run(produce(settings, chunks[0]))
    # The worker must be running before the broker restart: one still declaring its topics
    # gives up when the broker goes away under it (the process supervisor restarts it).
    counting(settings, worker)
    seen = asyncio.run(burst(url, origin, private_kafka, SEED))
    assert seen.statuses[202] > HOSTILE // 2, seen.statuses
    assert seen.statuses[503] > 0, "the broker restart must have been met by the burst"
    wait_for(lambda: healthy(f"{url}/healthz"), 30, "the collector after the broker restart")
    asyncio.run(produce(settings, chunks[1]))

    # 2. Known page views, Redis loses everything, the same ids are sent again.
    checks = [check_view(n) for n in range(RESENT)]
    post_views(url, origin, checks)
    counting(settings, worker)
    redis.Redis.from_url(settings.redis_url).flushall()
    post_views(url, origin, checks)
    asyncio.run(produce(settings, chunks[2]))

    # 3. The worker is killed mid-stream (no goodbye, no final checkpoint) and replaced.
    assert worker.alive(), worker.output()
    worker.stop(signal.SIGKILL)
    worker = start(["worker"], settings)
    asyncio.run(produce(settings, chunks[3]))

    # 4. The pipeline is alive: a valid event sent last reaches dojo.events.
    last = {**check_view(RESENT + 1), "url": "/chaos-last", "session_id": "sess_chaos_last"}
    post_views(url, origin, [last])
    asyncio.run(
        read_topic(
            settings,
            settings.topic_events,
            lambda v: any(
                e["event_id"] == last["event_id"] for b in batches_of(v) for e in b["events"]
            ),
            deadline_s=180,
            settle_s=0,
        )
    )
    wait_for(lambda: asyncio.run(group_lag(settings, settings.topic_events)) == 0, 120,
             "the clean topic to be fully committed")  # fmt: skip
    caught_up = int(time.time() * 1000)
    for channel in ("traffic", "forms", "funnels", "journeys"):
        wait_for(
            lambda c=channel: published_at(settings, c) > caught_up, 30, f"a {channel} snapshot"
        )
    assert worker.alive(), worker.output()
    assert collector.alive(), collector.output()

    # Numbers: the simulator's truth plus the test's own check pages, nothing counted twice.
    views_by_url = Counter(truth["page_views_by_url"])
    views_by_url[CHECK_PAGE] += RESENT
    views_by_url["/chaos-last"] += 1
    traffic = snapshot(settings, "traffic")
    today = traffic["today"]
    assert today["views"] == sum(views_by_url.values())
    assert today["sessions"] == truth["sessions"] + 2
    # The check sessions come from one browser: one visitor, the same before and after the
    # flush because the collector writes the day's salt back.
    assert today["visitors"] == truth["visitors"] + 1
    for row in traffic["top_pages"]:
        assert row["views"] == views_by_url[row["url"]], row["url"]

    forms = {f["form_id"]: f for f in snapshot(settings, "forms")["forms"]}
    for form_id, expected in truth["forms"].items():
        got = forms[form_id]
        assert (got["starts"], got["submits"], got["abandons"]) == (
            expected["starts"], expected["submits"], expected["abandons"]
        ), form_id  # fmt: skip
    funnel = next(
        f for f in snapshot(settings, "funnels")["funnels"] if f["name"] == "registration"
    )
    assert [s["sessions"] for s in funnel["steps"]] == [s["sessions"] for s in truth["funnel"]]
    for link in snapshot(settings, "journeys")["transitions"]:
        if CHECK_PAGE not in (link["from"], link["to"]):
            assert link["count"] == truth["transitions"][f"{link['from']} -> {link['to']}"]

    # Dead letters: the simulator's faults, every hostile event, every re-sent id; no more.
    letters = list(letters_by_position(settings).values())
    hostile = [d for d in letters if "sess_chaos_" in d["payload"] and "check" not in d["payload"]]
    # A request answered 503 may still have reached Kafka before its retry did (the producer's
    # timeout is no proof of absence): its events then have two letters with one payload. Every
    # accepted event has a letter, and no event that was refused (400) has one.
    assert len({d["payload"] for d in hostile}) == seen.accepted_events
    assert len(hostile) >= seen.accepted_events
    assert not any(d["reason"] == "invalid" for d in letters), "no check may fail to judge"
    resent = [d for d in letters if "sess_chaos_check" in d["payload"]]
    assert len(resent) == RESENT
    assert {d["reason"] for d in resent} == {"duplicate"}
    simulated = Counter(d["reason"] for d in letters if "sess_chaos" not in d["payload"])
    assert simulated == Counter(truth["totals"]["dead_lettered_by_reason"])
