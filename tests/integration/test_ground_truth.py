"""Simulated site traffic through the real pipeline; a worker is stopped mid-stream and
restarted; the live numbers must equal the simulator's ground truth exactly."""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import orjson
import pytest
import redis
from aiokafka import AIOKafkaProducer

from dojo_pulse.simulation import Request, generate
from stream.models import Keys, RawBatch
from stream.settings import Settings
from stream.sketches.windows import day_start
from tests.integration.conftest import Proc, group_lag, read_topic, wait_for

pytestmark = pytest.mark.integration

RATE = 120  # events per simulated second
DURATION_S = 240


def snapshot(settings: Settings, channel: str) -> dict[str, Any]:
    raw = redis.Redis.from_url(settings.redis_url).get(Keys.of(settings).snapshot(channel))
    return {} if raw is None else orjson.loads(raw)["data"]


def distinct_letters(settings: Settings, expected: int) -> dict[tuple[int, int, int], str]:
    """Dead letters by source position (a letter written twice after a crash counts once)."""
    letters = asyncio.run(
        read_topic(
            settings, settings.topic_dlq, lambda v: len(v) >= expected, deadline_s=5, settle_s=0.5
        )
    )
    return {(d["source_partition"], d["source_offset"], d["index"]): d["reason"] for d in letters}


def published_at(settings: Settings, channel: str) -> int:
    raw = redis.Redis.from_url(settings.redis_url).get(Keys.of(settings).snapshot(channel))
    return 0 if raw is None else int(orjson.loads(raw)["ts"])


async def produce(settings: Settings, requests: list[Request]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka, acks="all", enable_idempotence=True, linger_ms=5
    )
    await producer.start()
    try:
        futures = []
        for request in requests:
            raw = RawBatch(
                received_at=int(time.time() * 1000), visitor_id=request.visitor_id, device=request.device,
                bot=request.bot, site=settings.site_id, events=request.body["events"],
            )  # fmt: skip
            futures.append(
                await producer.send(
                    settings.topic_raw, orjson.dumps(raw.asdict()), key=request.session_id.encode()
                )
            )
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def test_numbers_equal_ground_truth_across_a_worker_crash(
    stack_settings: Settings, start: Callable[..., Proc]
) -> None:
    settings = stack_settings
    now = int(time.time() * 1000)
    # Keep the whole run inside today (UTC) so "today" in the snapshots is the whole run.
    start_ms = max(now - DURATION_S * 1000, day_start(now) + 1)
    duration_s = max(1.0, (now - start_ms) / 1000 - 1)
    requests, truth_obj = generate(
        17, rate=RATE, duration_s=duration_s, start_ms=start_ms, invalid_ratio=0.05,
        experiments=True,
    )  # fmt: skip
    requests = list(requests)
    truth = truth_obj.to_dict()
    total_views = sum(truth["page_views_by_url"].values())
    assert total_views > 100, "the simulation should produce real traffic"

    first = start(["worker"], settings)
    asyncio.run(produce(settings, requests))
    # Kill the worker (no goodbye, no final commit) once it is part-way through the stream.
    wait_for(
        lambda: (
            snapshot(settings, "traffic").get("today", {}).get("views", 0) > 0 or not first.alive()
        ),
        90,
        "the first worker to count some views",
    )
    assert first.alive(), first.output()
    # SIGKILL mid-stream: no goodbye, no final commit or checkpoint; state folded since the
    # last checkpoint and takes sent but not committed must be redone, exactly once.
    first.stop(signal.SIGKILL)
    second = start(["worker"], settings)

    def settled() -> bool:
        return (
            snapshot(settings, "traffic").get("today", {}).get("views", 0) >= total_views
            or not second.alive()
        )

    wait_for(
        settled,
        180,
        f"the restarted worker to catch up to {total_views} views "
        f"(snapshot: {snapshot(settings, 'traffic').get('today')})",
    )
    assert second.alive(), second.output()
    # Every raw message has been judged once each injected fault has its dead letter, and the
    # metric agents have folded everything once the clean topic's committed lag is zero
    # (they acknowledge only what a checkpoint holds); a double count would show now.
    wait_for(
        lambda: (
            len(distinct_letters(settings, truth["totals"]["dead_lettered"]))
            >= truth["totals"]["dead_lettered"]
        ),
        90,
        "every dead letter",
    )
    wait_for(
        lambda: asyncio.run(group_lag(settings, settings.topic_events)) == 0,
        90,
        "the clean topic to be fully committed",
    )
    caught_up = int(time.time() * 1000)
    for channel in ("traffic", "forms", "funnels", "journeys", "heatmaps", "experiments"):
        wait_for(
            lambda c=channel: published_at(settings, c) > caught_up,
            30,
            f"a {channel} snapshot after catching up",
        )

    traffic = snapshot(settings, "traffic")
    today = traffic["today"]
    assert today["views"] == total_views
    assert today["sessions"] == truth["sessions"]
    assert today["visitors"] == truth["visitors"]
    assert today["bounce_rate"] == pytest.approx(truth["bounces"] / truth["sessions"])
    for row in traffic["top_pages"]:
        assert row["views"] == truth["page_views_by_url"][row["url"]], row["url"]
    assert {k: v for k, v in traffic["devices"].items() if v} == {
        k: v for k, v in truth["devices"].items() if v
    }
    assert traffic["late"] == 0

    wait_for(lambda: bool(snapshot(settings, "forms").get("forms")), 30, "the forms snapshot")
    forms = {f["form_id"]: f for f in snapshot(settings, "forms")["forms"]}
    for form_id, expected in truth["forms"].items():
        got = forms[form_id]
        assert (got["starts"], got["submits"], got["abandons"]) == (
            expected["starts"], expected["submits"], expected["abandons"]
        ), form_id  # fmt: skip
        assert got["dropoff"] == expected["dropoff_fields"], form_id

    funnel = next(
        f for f in snapshot(settings, "funnels")["funnels"] if f["name"] == "registration"
    )
    assert [step["sessions"] for step in funnel["steps"]] == [
        step["sessions"] for step in truth["funnel"]
    ]

    journeys = snapshot(settings, "journeys")
    assert journeys["transitions"], "transitions must be counted"
    for link in journeys["transitions"]:
        assert link["count"] == truth["transitions"][f"{link['from']} -> {link['to']}"]

    heatmaps = snapshot(settings, "heatmaps")
    assert heatmaps["total_clicks"] == sum(truth["clicks"].values())
    # The snapshot lists the busiest (page, viewport) pairs only, so per page it can hold less.
    by_url: Counter[str] = Counter()
    for page in heatmaps["pages"]:
        by_url[page["url"]] += page["clicks"]
    assert by_url and all(clicks <= truth["clicks"][url] for url, clicks in by_url.items())

    # Dead letters: a crash may make the validate agent write a letter twice, but each letter
    # names its source position, so the distinct letters must match the injected faults.
    distinct = distinct_letters(settings, truth["totals"]["dead_lettered"])
    assert Counter(distinct.values()) == Counter(truth["totals"]["dead_lettered_by_reason"])

    # Experiments: units, exposures and converted units per variant, exactly.
    experiments = {e["key"]: e for e in snapshot(settings, "experiments")["experiments"]}
    assert set(experiments) == set(truth["experiments"]) == {"cta_colour", "events_layout"}
    for key, arms in truth["experiments"].items():
        rows = {v["name"]: v for v in experiments[key]["variants"]}
        assert set(rows) == set(arms), key
        for name, expected in arms.items():
            got = rows[name]
            assert (got["units"], got["exposures"]) == (expected["sessions"], expected["exposures"])
            assert got["goals"].get("goal:*", 0) == expected.get("converted_sessions", 0)
