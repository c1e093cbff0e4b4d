"""With Redis away, every REST view of the live feed answers 503 with Retry-After, never 500."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from starlette.testclient import TestClient

from live_feed import create_app
from stream.settings import Settings
from tests.conftest import free_port


@pytest.fixture
def cut_off(settings: Settings) -> Iterator[TestClient]:
    """The feed started against a Redis port where nothing listens (errors raised, not 500)."""
    nowhere = replace(settings, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    with TestClient(create_app(nowhere), raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize(
    "path",
    [
        "/api/snapshot/traffic",
        "/api/snapshot/heatmaps",
        "/api/heatmap?url=/&viewport=desktop",
        "/api/heatmap?url=/%00%22%3E&viewport=mobile",
    ],
)
def test_views_that_read_redis_answer_503_with_retry_after(
    cut_off: TestClient, settings: Settings, path: str
) -> None:
    headers = {"Authorization": f"Bearer {settings.admin_token.reveal()}"}
    response = cut_off.get(path, headers=headers)
    assert response.status_code == 503, response.text
    assert response.json()["error"] == "unavailable"
    assert int(response.headers["retry-after"]) > 0


def test_health_and_metrics_say_unavailable_not_broken(cut_off: TestClient) -> None:
    assert cut_off.get("/healthz").status_code == 503
    assert cut_off.get("/metrics").status_code == 503


def test_what_needs_no_redis_is_answered_as_usual(cut_off: TestClient, settings: Settings) -> None:
    refused = cut_off.get("/api/snapshot/traffic", headers={"Authorization": "Bearer nope"})
    assert refused.status_code == 401
    headers = {"Authorization": f"Bearer {settings.admin_token.reveal()}"}
    # Not a channel name: refused before any Redis call.
    assert cut_off.get("/api/snapshot/%3Cimg%20src%3Dx%3E", headers=headers).status_code == 404
    assert (
        cut_off.get("/api/heatmap?url=javascript:1&viewport=desktop", headers=headers).status_code
        == 400
    )
