"""What was live when, over HTTP: the content log's routes and history's ``content_changes``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from starlette.testclient import TestClient

from live_feed import create_app
from live_feed.content_desk import ContentDesk
from live_feed.history import HistoryStore
from stream.content import ContentService
from stream.content.messages import Outbox
from stream.settings import Settings
from stream.store import open_store
from tests.live_feed.conftest import FixedOffsets
from tests.store.content_items import Clock, event, page

API = "/api/admin/content"
H = 3_600_000
T0 = 1_796_342_400_000  # 2026-12-04T00:00Z
EVENT, PAGE = "event:scratch-2026-12-05", "page:/about"


@pytest.fixture
def app_client(settings: Settings, rdb: redis.Redis) -> Iterator[TestClient]:
    """The live feed on a store where the event went live at 01:00, changed at 02:00, went off
    at 03:00, and the page went live at 02:30."""
    engine, clock = open_store(settings), Clock(T0)
    service = ContentService(engine, Outbox(), clock=clock)
    service.create("event", event(), "admin")
    service.create("page", page(), "admin")
    clock.now = T0 + H
    service.publish(EVENT)
    service.update(EVENT, event(title="Scratch Saturday (full)"), 1, "admin")
    clock.now = T0 + 2 * H
    service.publish(EVENT)
    clock.now = T0 + 5 * H // 2
    service.publish(PAGE)
    clock.now = T0 + 3 * H
    service.unpublish(EVENT)
    engine.dispose()
    store = HistoryStore(settings)
    desk = ContentDesk(settings, store, Outbox(), every_s=60)
    app = create_app(settings, offsets=FixedOffsets({}), content=desk)
    with TestClient(app) as test_client:
        yield test_client
    store.close()


def change(item_id: str, title: str, revision: int, action: str, at_ms: int) -> dict[str, object]:
    return {"item_id": item_id, "title": title, "revision": revision, "action": action,
            "at_ms": at_ms}  # fmt: skip


EVERY_CHANGE = [
    change(EVENT, "Scratch Saturday", 1, "published", T0 + H),
    change(EVENT, "Scratch Saturday (full)", 2, "published", T0 + 2 * H),
    change(PAGE, "About the dojo", 1, "published", T0 + 5 * H // 2),
    change(EVENT, "Scratch Saturday (full)", 2, "unpublished", T0 + 3 * H),
]


def test_changes_in_a_range(app_client: TestClient, auth: dict[str, str]) -> None:
    got = app_client.get(f"{API}/changes", params={"from": T0, "to": T0 + 4 * H}, headers=auth)
    assert got.status_code == 200
    assert got.headers["cache-control"] == "no-store"
    assert got.json() == {"from": T0, "to": T0 + 4 * H, "type": None, "changes": EVERY_CHANGE}
    iso = {"from": "2026-12-04T02:00:00+00:00", "to": "2026-12-04T03:00Z", "type": "event"}
    assert app_client.get(f"{API}/changes", params=iso, headers=auth).json()["changes"] == [
        change(EVENT, "Scratch Saturday (full)", 2, "published", T0 + 2 * H),
    ]


def test_live_at_a_moment(app_client: TestClient, auth: dict[str, str]) -> None:
    def live(at: object) -> Any:
        return app_client.get(f"{API}/live", params={"at": at}, headers=auth).json()

    assert live(T0) == {"at": T0, "live": {}}
    assert live("2026-12-04T02:45Z") == {"at": T0 + 11 * H // 4, "live": {EVENT: 2, PAGE: 1}}
    assert live(T0 + 3 * H) == {"at": T0 + 3 * H, "live": {PAGE: 1}}
    before = time.time_ns() // 1_000_000
    now = app_client.get(f"{API}/live", headers=auth).json()
    assert before <= now["at"] <= time.time_ns() // 1_000_000
    assert now["live"] == live(now["at"])["live"]


def test_history_names_the_changes_of_its_range(
    app_client: TestClient, auth: dict[str, str]
) -> None:
    params = {"from": T0 + 2 * H, "to": T0 + 3 * H, "interval": "hour"}
    body = app_client.get("/api/history/traffic", params=params, headers=auth).json()
    assert body["content_changes"] == EVERY_CHANGE[1:3]
    csv = app_client.get("/api/history/traffic", params=params | {"format": "csv"}, headers=auth)
    assert csv.status_code == 200 and csv.text.strip() == "start,end"


@pytest.mark.parametrize("path", [f"{API}/changes", f"{API}/live"])
def test_the_routes_need_the_admin(app_client: TestClient, path: str) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        assert app_client.get(path, headers=headers).status_code == 401


HOSTILE = [
    ("from", ""), ("from", "yesterday"), ("from", "-1"), ("from", "1.5"), ("from", "true"),
    ("from", "null"), ("from", "[0]"), ("from", '{"ms": 0}'), ("from", "9" * 17),
    ("from", "x" * 10_000), ("from", "\x00"), ("from", "\uff12\uff10\uff12\uff16-12-04"),
    ("from", "2026-13-40"), ("to", "99999-01-01"), ("type", "events"),
    ("type", "\x00"), ("type", "[\"event\"]"), ("type", "é" * 500),
]  # fmt: skip


@pytest.mark.parametrize(("name", "value"), HOSTILE)
def test_hostile_changes_parameters_are_400_with_a_message(
    app_client: TestClient, auth: dict[str, str], name: str, value: str
) -> None:
    params = {"from": str(T0), "to": str(T0 + H)} | {name: value}
    got = app_client.get(f"{API}/changes", params=params, headers=auth)
    assert got.status_code == 400
    assert got.json()["field"] == name and got.json()["error"]


@pytest.mark.parametrize(
    "query", ["from=5&to=5", "from=6&to=5", "to=0", "from=1&from=2", "to=%FF", "from=%C3%28"]
)
def test_empty_backwards_or_repeated_ranges_are_400(
    app_client: TestClient, auth: dict[str, str], query: str
) -> None:
    got = app_client.get(f"{API}/changes?{query}", headers=auth)
    assert got.status_code == 400 and got.json()["error"]


@pytest.mark.parametrize("at", ["", "now", "-5", "1e3", "x" * 10_000, "\x00", "99999-01-01"])
def test_hostile_moments_are_400(app_client: TestClient, auth: dict[str, str], at: str) -> None:
    got = app_client.get(f"{API}/live", params={"at": at}, headers=auth)
    assert got.status_code == 400 and got.json()["field"] == "at"
