"""REST views onto insights: one page's heatmap and the configured funnels."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from starlette.testclient import TestClient

from live_feed import create_app
from stream.agents.track_funnels import track_funnels
from stream.metrics.funnel_config import funnels_as_dict, load_funnels
from stream.metrics.funnels import FunnelsState
from stream.settings import ENV, Settings
from tests.live_feed.conftest import KEYS


def page(url: str, viewport: str, clicks: int) -> dict[str, object]:
    grid = [[0] * 20 for _ in range(20)]
    grid[3][4] = clicks
    return {"url": url, "viewport": viewport, "clicks": clicks, "views": 10, "grid": grid,
            "scroll_reach": {"25": 1.0, "50": 0.5, "75": 0.2, "100": 0.1},
            "rage": [], "dead": []}  # fmt: skip


@pytest.fixture
def heatmaps(publisher: Callable[..., None]) -> None:
    publisher("heatmaps", {"pages": [
        page("/events", "mobile", 7), page("/events", "desktop", 11), page("/", "mobile", 3),
    ], "total_clicks": 21}, ts=1)  # fmt: skip


@pytest.mark.parametrize("path", ["/api/heatmap?url=/events&viewport=mobile", "/api/funnels"])
def test_insights_need_the_token(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 401
    assert client.get(path, headers={"Authorization": "Bearer nope"}).status_code == 401


@pytest.mark.parametrize(
    "query",
    ["", "?url=/events", "?viewport=mobile", "?url=events&viewport=mobile",
     "?url=/events&viewport=watch", f"?url=/{'a' * 2048}&viewport=mobile"],
)  # fmt: skip
def test_heatmap_400_for_a_missing_or_bad_parameter(
    client: TestClient, auth: dict[str, str], heatmaps: None, query: str
) -> None:
    response = client.get("/api/heatmap" + query, headers=auth)
    assert response.status_code == 400
    assert response.json()["detail"]


def test_heatmap_404_when_nothing_matches(
    client: TestClient, auth: dict[str, str], rdb: redis.Redis, heatmaps: None
) -> None:
    missing = client.get("/api/heatmap?url=/events&viewport=tablet", headers=auth)
    assert missing.status_code == 404
    assert "heatmap" in missing.json()["detail"]
    rdb.delete(KEYS.snapshot("heatmaps"))
    assert client.get("/api/heatmap?url=/&viewport=mobile", headers=auth).status_code == 404


def test_heatmap_200_returns_the_matching_page(
    client: TestClient, auth: dict[str, str], heatmaps: None
) -> None:
    response = client.get("/api/heatmap", params={"url": "/events", "viewport": "desktop"},
                          headers=auth)  # fmt: skip
    assert response.status_code == 200
    body = response.json()
    assert (body["url"], body["viewport"], body["clicks"]) == ("/events", "desktop", 11)
    assert body["grid"][3][4] == 11
    assert response.headers["cache-control"] == "no-store"


def test_funnels_200_lists_the_default_file(client: TestClient, auth: dict[str, str]) -> None:
    response = client.get("/api/funnels", headers=auth)
    assert response.status_code == 200
    assert response.json() == funnels_as_dict(load_funnels())
    names = [step["name"] for step in response.json()["funnels"][0]["steps"]]
    assert names[0] == "home" and "form_submitted" in names


@pytest.fixture
def client_with(settings: Settings, rdb: redis.Redis) -> Iterator[Callable[[Path], TestClient]]:
    opened: list[TestClient] = []

    def make(path: Path) -> TestClient:
        configured = dataclasses.replace(settings, funnels_path=str(path))
        test_client = TestClient(create_app(configured, heartbeat=0.1))
        opened.append(test_client.__enter__())
        return test_client

    yield make
    for test_client in opened:
        test_client.__exit__(None, None, None)


def test_funnels_from_another_file_and_a_broken_one(
    tmp_path: Path, client_with: Callable[[Path], TestClient], auth: dict[str, str]
) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("funnels:\n  - name: signup\n    steps:\n      - {name: a, url: /join}\n")
    listed = client_with(good).get("/api/funnels", headers=auth)
    assert listed.json()["funnels"][0]["name"] == "signup"

    broken = tmp_path / "broken.yaml"
    broken.write_text("funnels:\n  - name: signup\n    steps: []\n")
    refused = client_with(broken).get("/api/funnels", headers=auth)
    assert refused.status_code == 503
    assert "broken.yaml" in refused.json()["detail"]


def test_funnels_listed_are_the_ones_the_worker_counts(
    tmp_path: Path, settings: Settings, rdb: redis.Redis, auth: dict[str, str]
) -> None:
    custom = tmp_path / "club funnels ☃.yaml"  # spaces and non-ASCII in the path
    custom.write_text(
        "funnels:\n"
        "  - name: 'enrol <script>'\n"
        "    window_minutes: 5\n"
        "    steps:\n"
        "      - {name: camp, url: /camps/*}\n"
        "      - {name: sent, event: form_submit, props: {form_id: enrol}}\n",
        encoding="utf-8",
    )
    env = {"DOJO_REDIS_URL": settings.redis_url, ENV["funnels_path"]: str(custom)}
    configured = dataclasses.replace(Settings.from_env(env), admin_token=settings.admin_token)
    with TestClient(create_app(configured, heartbeat=0.1)) as client:
        listed = client.get("/api/funnels", headers=auth).json()
    assert listed == funnels_as_dict(load_funnels(custom))
    assert [f["name"] for f in listed["funnels"]] == ["enrol <script>"]
    assert listed != funnels_as_dict(load_funnels())  # not the shipped file
    counted = track_funnels(configured).new()
    assert isinstance(counted, FunnelsState)
    assert [f["name"] for f in counted.snapshot(0)["funnels"]] == ["enrol <script>"]
