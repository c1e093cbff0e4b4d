"""A graceful broker restart under load: the collector recovers in seconds, nothing acked is lost.

Beacons post continuously (unique event ids, a 503 retried like the beacon does) while the
test's private broker is stopped with SIGTERM and started again on the same ports and data
dir. The collector must answer 202 again within seconds of the broker answering, and every
event acknowledged with 202 must be in ``dojo.events`` exactly once.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import pytest

from stream.ingest.bundles import batches_of
from stream.settings import Settings
from stream.topics import ensure_topics
from tests.conftest import free_port
from tests.integration.conftest import PrivateKafka, Proc, healthy, read_topic, wait_for
from tests.integration.test_ingest_pipeline import BROWSER, page_view

pytestmark = pytest.mark.integration

SENDERS = 32
PACE_S = 0.05  # per sender between requests: up to a few hundred requests a second
RETRY_S = 0.5  # the beacon waits Retry-After (2 s); shorter here keeps the test short
RECOVERY_BOUND_S = 15.0
GIVE_UP_S = 40.0  # after the load stops, an unacknowledged request is abandoned
# Longer than the request timeout: requests queued in the producer age past it meanwhile.
DOWN_S = 8.0


@dataclass
class Traffic:
    """What the simulated beacons saw: acknowledged ids and every reply with its time."""

    acked: list[str] = field(default_factory=list)
    replies: list[tuple[float, int]] = field(default_factory=list)
    stopping: float | None = None

    def accepted_since(self, t: float) -> int:
        return sum(1 for at, status in self.replies if at >= t and status == 202)


async def beacon(client: httpx.AsyncClient, n: int, traffic: Traffic, now_ms: int) -> None:
    """Post two-event requests until told to stop; retry each until 202 (or give up)."""
    seq = 0
    while traffic.stopping is None:
        events = [
            page_view(seq * 2 + k, n, now_ms, event_id=f"e{now_ms}_{n}_{seq}_{k}") for k in (0, 1)
        ]
        seq += 1
        while True:
            try:
                reply = await client.post(
                    "/collect", json={"events": events}, headers={"User-Agent": BROWSER}
                )
                status = reply.status_code
            except httpx.HTTPError:
                status = 0  # unreachable: the beacon retries too
            traffic.replies.append((time.monotonic(), status))
            if status == 202:
                traffic.acked += [e["event_id"] for e in events]
                break
            assert status in (0, 503), f"unexpected answer {status}"
            if traffic.stopping is not None and time.monotonic() > traffic.stopping + GIVE_UP_S:
                break
            await asyncio.sleep(RETRY_S)
        await asyncio.sleep(PACE_S)


async def restart_under_load(url: str, broker: PrivateKafka) -> tuple[Traffic, float, float]:
    """Load, restart the broker, load on; return the traffic, when it answered, when 202 came."""
    traffic = Traffic()
    now_ms = int(time.time() * 1000)
    limits = httpx.Limits(max_connections=SENDERS)
    async with httpx.AsyncClient(base_url=url, timeout=15, limits=limits) as client:
        senders = [asyncio.create_task(beacon(client, n, traffic, now_ms)) for n in range(SENDERS)]
        await asyncio.sleep(4)
        assert traffic.accepted_since(0) > 50, "the load did not get going"
        await asyncio.to_thread(broker.stop)
        await asyncio.sleep(DOWN_S)  # beacons meet a broker that is down
        await asyncio.to_thread(broker.start)
        broker_up = time.monotonic()
        deadline = broker_up + RECOVERY_BOUND_S + 30
        while traffic.accepted_since(broker_up) == 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        recovered = next((at for at, s in traffic.replies if at >= broker_up and s == 202), None)
        await asyncio.sleep(4)  # and it stays up under the same load
        traffic.stopping = time.monotonic()
        await asyncio.gather(*senders)
    return traffic, broker_up, recovered if recovered is not None else float("inf")


def test_collector_recovers_from_a_graceful_broker_restart_and_loses_nothing(
    private_kafka: PrivateKafka, stack_settings: Settings, start: Callable[..., Proc]
) -> None:
    settings = replace(stack_settings, kafka=private_kafka.bootstrap)
    asyncio.run(ensure_topics(settings))
    collector = start(["collector"], settings)
    worker = start(["worker"], settings)
    url = f"http://{settings.collector_host}:{settings.collector_port}"
    wait_for(lambda: healthy(f"{url}/healthz") or not collector.alive(), 30, "the collector")
    # The worker must be running before the restart (a worker still starting may give up).
    first = page_view(0, 0, int(time.time() * 1000))
    reply = httpx.post(f"{url}/collect", json={"events": [first]}, headers={"User-Agent": BROWSER})
    assert reply.status_code == 202
    asyncio.run(
        read_topic(settings, settings.topic_events, lambda v: len(batches_of(v)) > 0, settle_s=0)
    )

    traffic, broker_up, recovered = asyncio.run(restart_under_load(url, private_kafka))

    assert collector.alive(), collector.output()
    took = recovered - broker_up
    assert took <= RECOVERY_BOUND_S, (
        f"the collector answered 202 {took:.1f} s after the broker was back\n{collector.output()}"
    )
    statuses = Counter(status for _, status in traffic.replies)
    late = traffic.accepted_since(recovered + 2) / max(
        1, sum(1 for at, _ in traffic.replies if at >= recovered + 2)
    )
    assert late > 0.9, f"after recovery most requests must be taken: {late:.0%} of {statuses}"
    acked = set(traffic.acked)
    assert len(acked) == len(traffic.acked)

    def stored(values: list[Any]) -> set[str]:
        return {e["event_id"] for b in batches_of(values) for e in b["events"]}

    bundles = asyncio.run(
        read_topic(settings, settings.topic_events, lambda v: acked <= stored(v), deadline_s=120)
    )
    assert worker.alive(), worker.output()
    ids = Counter(e["event_id"] for b in batches_of(bundles) for e in b["events"])
    missing = acked - set(ids)
    assert not missing, f"{len(missing)} of {len(acked)} acknowledged events never arrived"
    twice = [i for i, n in ids.items() if n > 1]
    assert not twice, f"{len(twice)} events stored more than once, e.g. {twice[:3]}"
    # One line when Kafka went, one when it came back: not one per refused request.
    said = collector.log.read_text().splitlines()
    assert sum("Kafka unavailable at" in line for line in said) == 1, said
    assert sum("is back after" in line for line in said) == 1, said
    assert len(said) < 30, f"{len(said)} lines for {statuses}"
    assert len(worker.log.read_text().splitlines()) < 100, worker.output()


def answers(url: str) -> bool:
    """The process answers HTTP at all (``/healthz`` says 503 while Kafka is away)."""
    try:
        httpx.get(url, timeout=1.0)
    except httpx.HTTPError:
        return False
    return True


async def refused_for(url: str, seconds: float) -> Counter[int]:
    """Post as fast as a few beacons can for ``seconds``; count the answers."""
    statuses: Counter[int] = Counter()
    end = time.monotonic() + seconds
    now_ms = int(time.time() * 1000)

    async def one_beacon(client: httpx.AsyncClient, n: int) -> None:
        seq = 0
        while time.monotonic() < end:
            event = page_view(seq, n, now_ms, event_id=f"dead{now_ms}_{n}_{seq}")
            seq += 1
            reply = await client.post(
                "/collect", json={"events": [event]}, headers={"User-Agent": BROWSER}
            )
            statuses[reply.status_code] += 1

    async with httpx.AsyncClient(base_url=url, timeout=15) as client:
        await asyncio.gather(*(one_beacon(client, n) for n in range(8)))
    return statuses


def test_a_dead_broker_is_logged_once_not_per_request(
    stack_settings: Settings, start: Callable[..., Proc]
) -> None:
    dead = f"127.0.0.1:{free_port()}"  # nothing listens here: every connect is refused
    settings = replace(stack_settings, kafka=dead)
    collector = start(["collector"], settings)
    worker = start(["worker"], settings)
    url = f"http://{settings.collector_host}:{settings.collector_port}"
    wait_for(lambda: answers(f"{url}/healthz") or not collector.alive(), 30, "the collector")

    statuses = asyncio.run(refused_for(url, 5.0))

    assert set(statuses) == {503} and statuses[503] > 200, statuses
    assert collector.alive() and worker.alive(), collector.output() + worker.output()
    said = collector.log.read_text().splitlines()
    assert len(said) < 20, f"{len(said)} lines for {statuses[503]} refusals:\n" + "\n".join(said)
    assert sum(f"Kafka unavailable at {dead}" in line for line in said) == 1, said
    waited = worker.log.read_text().splitlines()
    assert len(waited) < 20, "\n".join(waited)
    assert sum(f"waiting for Kafka at {dead}" in line for line in waited) == 1, waited
