"""``GET /api/experiments[/{key}]``: the worker's experiment figures, for admins only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.unit.test_experiments_state import NOW, _fold


@pytest.fixture
def figures(publisher: Callable[..., None]) -> dict[str, Any]:
    snapshot = _fold(experiments=True).snapshot(NOW)
    publisher("experiments", snapshot, ts=NOW)
    return snapshot


@pytest.mark.parametrize("path", ["/api/experiments", "/api/experiments/cta_colour"])
def test_experiments_need_the_token(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 401
    assert client.get(path, headers={"Authorization": "Bearer nope"}).status_code == 401


def test_every_experiment_with_the_same_figures_as_the_topic(
    client: TestClient, auth: dict[str, str], figures: dict[str, Any]
) -> None:
    reply = client.get("/api/experiments", headers=auth)
    assert reply.status_code == 200 and reply.headers["cache-control"] == "no-store"
    body = reply.json()
    assert body == {"experiments": figures["experiments"], "ts": NOW}
    assert [e["key"] for e in body["experiments"]] == ["cta_colour", "events_layout"]


def test_one_experiment_and_unknown_or_bad_keys(
    client: TestClient, auth: dict[str, str], figures: dict[str, Any]
) -> None:
    one = client.get("/api/experiments/events_layout", headers=auth).json()
    assert one == figures["experiments"][1] | {"ts": NOW}
    assert one["decision"] and one["variants"][0]["name"] == "grid"
    missing = client.get("/api/experiments/nope", headers=auth)
    assert missing.status_code == 404 and "nope" in missing.json()["detail"]
    for bad in ("Bad%20Key", "x" * 65, "%ff", "a.b"):
        assert client.get(f"/api/experiments/{bad}", headers=auth).status_code == 400


@pytest.mark.parametrize(
    "data", [None, [], "text", 5, {"experiments": "x"}, {"experiments": [1, None, "a", []]}]
)
def test_a_missing_or_odd_snapshot_is_an_empty_list(
    client: TestClient, auth: dict[str, str], publisher: Callable[..., None], data: Any
) -> None:
    publisher("experiments", data, ts=1)
    assert client.get("/api/experiments", headers=auth).json()["experiments"] == []
    assert client.get("/api/experiments/cta_colour", headers=auth).status_code == 404


def test_nothing_published_yet(client: TestClient, auth: dict[str, str]) -> None:
    assert client.get("/api/experiments", headers=auth).json()["experiments"] == []
