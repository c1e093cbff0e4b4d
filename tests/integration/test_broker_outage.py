"""Kafka stops while beacons keep posting: 503s, nothing acknowledged is lost, retries land once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

import infra.kafka
from stream.ingest.bundles import batches_of
from stream.settings import Settings
from stream.topics import ensure_topics
from tests.conftest import free_port
from tests.integration.conftest import Proc, healthy, read_topic, wait_for
from tests.integration.test_ingest_pipeline import BROWSER, page_view

pytestmark = pytest.mark.integration


@pytest.fixture
def private_stack(stack_settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    """The test's settings, but with a broker of its own that the test may stop."""
    settings = replace(
        stack_settings,
        kafka=f"127.0.0.1:{free_port()}",
        kafka_controller_port=free_port(),
        data_dir=tmp_path / "private",
    )
    infra.kafka.up(settings, echo=lambda _line: None)
    asyncio.run(ensure_topics(settings))
    yield settings
    infra.kafka.down(settings, echo=lambda _line: None)


def test_outage_answers_503_and_retries_arrive_once(
    private_stack: Settings, start: Callable[..., Proc]
) -> None:
    settings = private_stack
    collector = start(["collector"], settings)
    worker = start(["worker"], settings)
    url = f"http://{settings.collector_host}:{settings.collector_port}"
    wait_for(lambda: healthy(f"{url}/healthz") or not collector.alive(), 30, "the collector")
    now = int(time.time() * 1000)
    before = [page_view(i, 1, now) for i in range(5)]
    during = [page_view(100 + i, 2, now) for i in range(5)]

    with httpx.Client(base_url=url, timeout=15) as client:

        def post(events: list[dict[str, object]]) -> int:
            return client.post(
                "/collect", json={"events": events}, headers={"User-Agent": BROWSER}
            ).status_code

        assert post(before) == 202
        # Let the worker take its part first, so the outage hits a running pipeline.
        asyncio.run(
            read_topic(
                settings,
                settings.topic_events,
                lambda v: sum(len(b["events"]) for b in batches_of(v)) >= 5,
            )
        )
        infra.kafka.down(settings, echo=lambda _line: None)
        refused = post(during)
        assert refused == 503, "with Kafka down nothing may be acknowledged"
        infra.kafka.up(settings, echo=lambda _line: None)
        # The beacon keeps retrying a 503'd batch; do the same until the collector takes it.
        statuses = [refused]
        wait_for(
            lambda: statuses.append(post(during)) or statuses[-1] == 202,
            90,
            "the retry to be accepted",
        )

    bundles = asyncio.run(
        read_topic(
            settings,
            settings.topic_events,
            lambda v: sum(len(b["events"]) for b in batches_of(v)) >= 10,
            deadline_s=120,
        )
    )
    assert worker.alive(), worker.output()
    batches = batches_of(bundles)
    ids = [e["event_id"] for b in batches for e in b["events"]]
    assert sorted(ids) == sorted(e["event_id"] for e in before + during), "each event exactly once"
    assert set(statuses) <= {503, 202}
