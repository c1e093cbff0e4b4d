"""The worker's own /metrics: what folds, validation and checkpoints count, and the server."""

from __future__ import annotations

import socket

import httpx
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from stream.metrics.pipeline import PipelineStats
from stream.models.keys import Keys
from stream.runtime.progress import Progress
from stream.settings import Settings
from stream.sinks.prometheus import REGISTRY, MetricsPortError, serve_metrics
from stream.sinks.publish import SnapshotPublisher
from tests.conftest import free_port
from tests.promtool import check_metrics

KEYS = Keys.of(Settings())


def value(name: str, **labels: str) -> float:
    """One sample of the worker's registry (0 when absent)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_folds_count_per_agent_and_show_the_last_fold(settings: Settings) -> None:
    redis = Redis.from_url(settings.redis_url)
    agent = 'count_traffic\n{evil="x"}'  # a hostile label value is escaped, not injected
    before = value("dojo_worker_messages_folded_total", agent=agent)
    progress = Progress(redis, KEYS, agent, wall=lambda: 1_900_000_000.5)
    try:
        assert ("dojo_worker_messages_folded_total", agent) in _series()  # at 0 from the start
        progress.add(3)
        progress.add(0)
        progress.add(2)
        await progress.flush(force=True)
    finally:
        await redis.aclose()
    assert value("dojo_worker_messages_folded_total", agent=agent) == before + 5
    assert value("dojo_worker_last_fold_timestamp_seconds", agent=agent) == 1_900_000_000.5
    text = generate_latest(REGISTRY).decode()
    assert 'agent="count_traffic\\n{evil=\\"x\\"}"' in text


async def test_validation_outcomes_count_accepted_and_dead_letters_by_reason(
    settings: Settings,
) -> None:
    redis = Redis.from_url(settings.redis_url)
    stats = PipelineStats(redis, KEYS, SnapshotPublisher(redis, KEYS))
    accepted = value("dojo_worker_events_accepted_total")
    schema = value("dojo_worker_events_dead_lettered_total", reason="schema")
    bot = value("dojo_worker_events_dead_lettered_total", reason="bot")
    received = 1_900_000_000_000
    stats.add(
        [{"received_at": received, "events": [{}] * 4}, {"received_at": received, "events": []}],
        [{"received_at": received, "reason": "schema"}] * 2
        + [{"received_at": received, "reason": "bot"}],
        scrubbed=1,
    )
    await redis.aclose()
    assert value("dojo_worker_events_accepted_total") == accepted + 4
    assert value("dojo_worker_events_dead_lettered_total", reason="schema") == schema + 2
    assert value("dojo_worker_events_dead_lettered_total", reason="bot") == bot + 1


def test_the_server_answers_with_valid_prometheus_text() -> None:
    port = free_port()
    server = serve_metrics("127.0.0.1", port)
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    finally:
        server.shutdown()
        server.server_close()
    assert response.status_code == 200
    families = {f.name: f.type for f in text_string_to_metric_families(response.text)}
    assert families["dojo_worker_messages_folded"] == "counter"
    assert families["dojo_worker_events_accepted"] == "counter"
    assert families["dojo_worker_events_dead_lettered"] == "counter"
    assert families["dojo_worker_last_fold_timestamp_seconds"] == "gauge"
    assert families["dojo_worker_checkpoint_seconds"] == "histogram"
    check_metrics(response.content)


def test_a_busy_port_fails_with_one_line_that_says_what_to_do() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(MetricsPortError) as refused:
            serve_metrics("127.0.0.1", port)
    message = str(refused.value)
    assert f"127.0.0.1:{port}" in message and "DOJO_WORKER_WEB_PORT" in message
    assert "\n" not in message


def _series() -> set[tuple[str, str]]:
    return {
        (sample.name, sample.labels.get("agent", ""))
        for family in REGISTRY.collect()
        for sample in family.samples
    }
