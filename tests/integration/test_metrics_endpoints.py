"""Every process that works serves its own /metrics, valid for Prometheus, and the numbers move.

Collector, worker and live feed run as processes on the real Kafka and Redis; a little
traffic goes in through the collector. Each exposition must pass ``promtool check metrics``
and show that process's share of the work: events accepted by the collector, validated and
folded by the worker, processed as the live feed reads it from Redis.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from stream.settings import Settings
from tests.integration.conftest import Proc, healthy, wait_for
from tests.integration.test_ingest_pipeline import BROWSER, page_view
from tests.promtool import check_metrics

pytestmark = pytest.mark.integration

Samples = dict[str, dict[tuple[tuple[str, str], ...], float]]
DAY_MS = 86_400_000


def scrape(url: str) -> tuple[bytes, Samples]:
    """The raw exposition at ``url`` and its samples by name and labels (empty if down)."""
    try:
        response = httpx.get(url, timeout=2)
    except httpx.HTTPError:
        return b"", {}
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            key = tuple(sorted(sample.labels.items()))
            samples.setdefault(sample.name, {})[key] = sample.value
    return response.content, samples


def total(samples: Samples, name: str, **labels: str) -> float:
    """Sum of ``name``'s samples whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for k, v in samples.get(name, {}).items() if wanted <= set(k))


def test_each_process_serves_valid_metrics_that_count_its_work(
    stack_settings: Settings, collector_url: str, start: Callable[..., Proc]
) -> None:
    settings = stack_settings
    live = start(["live"], settings)
    live_url = f"http://{settings.live_host}:{settings.live_port}"
    wait_for(lambda: healthy(f"{live_url}/healthz") or not live.alive(), 30, "the live feed")
    assert live.alive(), live.output()
    worker = start(["worker"], settings)
    worker_url = f"http://{settings.worker_web_host}:{worker.settings.worker_web_port}/metrics"
    wait_for(lambda: bool(scrape(worker_url)[1]) or not worker.alive(), 60, "worker /metrics")
    assert worker.alive(), worker.output()

    now = int(time.time() * 1000)
    good = [page_view(i, i % 3, now, url=f"/learn/{i}") for i in range(12)]
    hostile = [
        page_view(100, 1, now, ts=now - 10 * DAY_MS),  # too old to count
        page_view(101, 1, now, type='page_view"}\n# TYPE x counter'),  # no such type
    ]
    with httpx.Client(base_url=collector_url, timeout=10) as client:
        reply = client.post(
            "/collect", json={"events": good + hostile}, headers={"User-Agent": BROWSER}
        )
    assert reply.status_code == 202, reply.text

    def worker_done() -> bool:
        samples = scrape(worker_url)[1]
        accepted = total(samples, "dojo_worker_events_accepted_total")
        dead = total(samples, "dojo_worker_events_dead_lettered_total")
        folded = total(samples, "dojo_worker_messages_folded_total", agent="count_traffic")
        return ((accepted, dead) == (12, 2) and folded > 0) or not worker.alive()

    wait_for(worker_done, 120, "the worker to count the traffic")
    assert worker.alive(), worker.output()

    def feed_done() -> bool:
        return total(scrape(f"{live_url}/metrics")[1], "dojo_events_processed_total") == 14

    wait_for(feed_done, 30, "the live feed to see the processed events")

    collector_raw, collector = scrape(f"{collector_url}/metrics")
    worker_raw, work = scrape(worker_url)
    live_raw, feed = scrape(f"{live_url}/metrics")
    for raw in (collector_raw, worker_raw, live_raw):
        check_metrics(raw)

    assert total(collector, "dojo_collector_events_accepted_total") == 14
    assert total(work, "dojo_worker_events_dead_lettered_total", reason="too_old") == 1
    assert total(work, "dojo_worker_events_dead_lettered_total") == 2
    for agent in ("count_traffic", "track_funnels"):
        assert total(work, "dojo_worker_messages_folded_total", agent=agent) > 0, agent
        assert total(work, "dojo_worker_last_fold_timestamp_seconds", agent=agent) > now / 1000
    wait_for(
        lambda: total(scrape(worker_url)[1], "dojo_worker_checkpoint_seconds_count") > 0,
        30,
        "a checkpoint to be timed",
    )
    assert total(feed, "dojo_events_processed_total") == 14
    assert total(feed, "dojo_agent_messages_folded_total", agent="count_traffic") > 0
    assert b'TYPE x counter"' not in worker_raw  # a hostile type never becomes a label
