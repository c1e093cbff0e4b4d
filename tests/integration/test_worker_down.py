"""A worker killed on the real stack: the live feed's /healthz and /metrics must see it.

Collector, worker and live feed run as processes; traffic goes in through the collector.
With the worker SIGKILLed, more traffic must show as consumer lag read from Kafka and the
worker as "not running"; a new worker must bring both back to ok and lag 0.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from stream.settings import Settings
from tests.integration.conftest import Proc, healthy, wait_for
from tests.integration.test_ingest_pipeline import BROWSER, page_view

pytestmark = pytest.mark.integration


def health(url: str) -> dict[str, Any]:
    try:
        body: dict[str, Any] = httpx.get(f"{url}/healthz", timeout=2).json()
    except (httpx.HTTPError, ValueError):
        return {}
    return body


def metrics(url: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    text = httpx.get(f"{url}/metrics", timeout=2).text
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def send(collector_url: str, first: int, count: int, now: int) -> None:
    events = [page_view(first + i, (first + i) % 7, now, url=f"/learn/{i}") for i in range(count)]
    with httpx.Client(base_url=collector_url, timeout=10) as client:
        reply = client.post("/collect", json={"events": events}, headers={"User-Agent": BROWSER})
        assert reply.status_code == 202, reply.text


def test_a_killed_worker_shows_as_lag_and_not_running_until_a_new_one_catches_up(
    stack_settings: Settings, collector_url: str, start: Callable[..., Proc]
) -> None:
    settings = stack_settings
    live = start(["live"], settings)
    live_url = f"http://{settings.live_host}:{settings.live_port}"
    wait_for(lambda: healthy(f"{live_url}/healthz") or not live.alive(), 30, "the live feed")
    assert live.alive(), live.output()
    worker = start(["worker"], settings)
    now = int(time.time() * 1000)

    def caught_up() -> bool:
        body = health(live_url)
        return body.get("worker") == "ok" and body.get("kafka") == "ok" and body.get("lag") == 0

    send(collector_url, 0, 40, now)
    wait_for(lambda: caught_up() or not worker.alive(), 120, "the worker to catch up")
    assert worker.alive(), worker.output()

    worker.stop(signal.SIGKILL)
    send(collector_url, 1000, 40, now)

    def seen_dead() -> bool:
        body = health(live_url)
        return body.get("worker") == "not running" and (body.get("lag") or 0) > 0

    wait_for(seen_dead, 60, f"the live feed to see the dead worker (last: {health(live_url)})")
    body = health(live_url)
    assert body["status"] == "ok"  # the feed itself still serves
    assert body["last_seen_s"] >= 10
    values = metrics(live_url)
    raw_lag = values["dojo_consumer_lag"][
        (("group", settings.validate_group), ("topic", settings.topic_raw))
    ]
    assert raw_lag > 0  # the request sent after the kill waits in the raw topic
    assert values["dojo_worker_running"][()] == 0
    assert live.alive(), live.output()

    restarted = start(["worker"], settings)
    wait_for(lambda: caught_up() or not restarted.alive(), 180, "the new worker to catch up")
    assert restarted.alive(), restarted.output()
    values = metrics(live_url)
    assert set(values["dojo_consumer_lag"].values()) == {0}
    assert values["dojo_worker_running"][()] == 1
    assert values["dojo_worker_behind_seconds"][()] == 0
