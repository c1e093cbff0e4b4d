"""beacon.js, /healthz, and a collector whose Redis or Kafka is down."""

from __future__ import annotations

import dataclasses

from starlette.testclient import TestClient

from collector.app import create_app
from stream.settings import Settings
from tests.collector.conftest import Clock, MemorySink, event
from tests.conftest import free_port


def test_beacon_js_is_served(client: TestClient) -> None:
    response = client.get("/beacon.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["cache-control"] == "public, max-age=300"
    assert "dojoPulse" in response.text
    assert "sendBeacon" in response.text


def test_healthz_ok(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_healthz_503_when_sink_not_ready(client: TestClient, sink: MemorySink) -> None:
    sink.available = False
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["sink"] is False


def test_redis_down_is_503(collector_settings: Settings, sink: MemorySink, clock: Clock) -> None:
    settings = dataclasses.replace(
        collector_settings, redis_url=f"redis://127.0.0.1:{free_port()}/0"
    )
    with TestClient(create_app(settings, sink=sink, clock=clock)) as client:
        response = client.post("/collect", json={"events": [event(0)]})
        assert response.status_code == 503
        assert response.headers["retry-after"] == "2"
        assert response.json()["error"] == "unavailable"
        assert client.get("/healthz").status_code == 503
    assert sink.messages == []


def test_starts_and_answers_503_while_kafka_is_down(
    collector_settings: Settings, clock: Clock
) -> None:
    # The default sink, aimed at a port where no broker listens.
    settings = dataclasses.replace(collector_settings, kafka=f"127.0.0.1:{free_port()}")
    with TestClient(create_app(settings, clock=clock)) as client:
        response = client.post("/collect", json={"events": [event(0)]})
        assert response.status_code == 503
        assert response.json()["error"] == "unavailable"
        health = client.get("/healthz")
        assert health.status_code == 503
        assert health.json() == {
            "status": "unavailable",
            "redis": True,
            "sink": False,
            "rate_limit_failed_open": 0,
        }
