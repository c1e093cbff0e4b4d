"""The admins' content API on the live feed: real store (SQLite), real Redis sessions."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import orjson
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
from tests.store.content_items import event, page, resource

API = "/api/admin/content"
EVENT_ID = "event:scratch-2026-12-05"


@pytest.fixture
def outbox() -> Outbox:
    return Outbox()


@pytest.fixture
def app_client(settings: Settings, rdb: redis.Redis, outbox: Outbox) -> Iterator[TestClient]:
    store = HistoryStore(settings)
    desk = ContentDesk(settings, store, outbox, every_s=0.05)
    app = create_app(settings, offsets=FixedOffsets({}), content=desk)
    with TestClient(app) as test_client:
        yield test_client
    store.close()


def wait_for(check: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.02)
    raise AssertionError(f"not within {timeout} s")


def create(
    client: TestClient, auth: dict[str, str], type_name: str, fields: dict[str, Any]
) -> dict[str, Any]:
    answer = client.post(
        API, json={"type": type_name, "fields": fields, "message": "new"}, headers=auth
    )
    assert answer.status_code == 201, answer.text
    return answer.json()  # type: ignore[no-any-return]


ROUTES = [
    ("GET", f"{API}/types"),
    ("GET", API),
    ("POST", API),
    ("GET", f"{API}/{EVENT_ID}"),
    ("PUT", f"{API}/{EVENT_ID}"),
    ("POST", f"{API}/{EVENT_ID}/publish"),
    ("POST", f"{API}/{EVENT_ID}/unpublish"),
    ("POST", f"{API}/{EVENT_ID}/revert"),
    ("GET", f"{API}/{EVENT_ID}/revisions"),
    ("GET", f"{API}/{EVENT_ID}/diff"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_every_route_needs_the_admin(app_client: TestClient, method: str, path: str) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        answer = app_client.request(method, path, headers=headers, json={})
        assert answer.status_code == 401


def test_types_describe_the_forms(app_client: TestClient, auth: dict[str, str]) -> None:
    types = {t["name"]: t for t in app_client.get(f"{API}/types", headers=auth).json()["types"]}
    assert {"event", "resource", "page"} <= set(types)
    fields = {f["name"]: f for f in types["event"]["fields"]}
    assert fields["status"]["options"] == ["scheduled", "full", "cancelled"]
    assert fields["starts_at"]["kind"] == "datetime" and fields["starts_at"]["required"]


def test_create_read_list_and_edit_with_if_match(
    app_client: TestClient, auth: dict[str, str], outbox: Outbox
) -> None:
    assert create(app_client, auth, "event", event()) == {"id": EVENT_ID, "revision": 1}
    got = app_client.get(f"{API}/{EVENT_ID}", headers=auth)
    assert got.headers["etag"] == '"1"' and got.headers["cache-control"] == "no-store"
    assert got.json() | {"fields": None} == {
        "id": EVENT_ID,
        "type": "event",
        "fields": None,
        "revision": 1,
        "live_revision": None,
        "status": "draft",
        "scheduled": {},
    }
    [listed] = app_client.get(API, params={"type": "event", "q": "scratch"}, headers=auth).json()[
        "items"
    ]
    assert (listed["id"], listed["status"], listed["title"]) == (
        EVENT_ID,
        "draft",
        "Scratch Saturday",
    )
    assert app_client.get(API, params={"status": "published"}, headers=auth).json() == {"items": []}
    url = f"{API}/{EVENT_ID}"
    body = {"fields": event(capacity=40), "message": "bigger room"}
    assert app_client.put(url, json=body, headers=auth).status_code == 428
    ok = app_client.put(url, json=body, headers=auth | {"If-Match": '"1"'})
    assert (ok.status_code, ok.json(), ok.headers["etag"]) == (
        200,
        {"id": EVENT_ID, "revision": 2},
        '"2"',
    )
    stale = app_client.put(
        url, json={"fields": event(capacity=5)}, headers=auth | {"If-Match": '"1"'}
    )
    assert (stale.status_code, stale.json()) == (412, {"current": 2})
    assert app_client.get(url, headers=auth).json()["fields"]["capacity"] == 40
    revisions = [
        orjson.loads(m.value or b"") for m in outbox.messages if m.topic.endswith(".revisions")
    ]
    assert [(r["id"], r["revision"], r["message"]) for r in revisions] == [
        (EVENT_ID, 1, "new"),
        (EVENT_ID, 2, "bigger room"),
    ]


def test_bad_fields_are_422_with_a_message_per_field(
    app_client: TestClient, auth: dict[str, str]
) -> None:
    answer = app_client.post(
        API, json={"type": "event", "fields": event(capacity="lots", ends_at=7)}, headers=auth
    )
    assert answer.status_code == 422
    assert answer.json() == {
        "errors": {
            "ends_at": "must be a string, not a number",
            "capacity": "must be a whole number, not str",
        }
    }
    assert app_client.get(API, headers=auth).json() == {"items": []}


HOSTILE_BODIES: list[tuple[bytes, str, int]] = [
    (b"{not json", "application/json", 400),
    (b"\xff\xfe{}", "application/json", 400),
    (b"[1, 2]", "application/json", 400),
    (b'"event"', "application/json", 400),
    (b"null", "application/json", 422),  # an object is wanted: {} gives field errors
    (b'{"type": "event"}', "text/plain", 415),
    (b'{"type": "event"}', "application/x-www-form-urlencoded", 415),
    (b'{"type": "' + b"x" * (600 * 1024) + b'"}', "application/json", 413),
]


@pytest.mark.parametrize(("raw", "kind", "status"), HOSTILE_BODIES)
def test_hostile_bodies_are_refused_and_write_nothing(
    app_client: TestClient, auth: dict[str, str], raw: bytes, kind: str, status: int
) -> None:
    if raw == b"null":
        raw, status = b"{}", 422
    answer = app_client.post(API, content=raw, headers=auth | {"content-type": kind})
    assert answer.status_code == status
    assert app_client.get(API, headers=auth).json() == {"items": []}


@pytest.mark.parametrize("value", [None, True, 1, 1.5, "event", [], {}, ["x"], {"a": 1}])
def test_every_json_type_in_every_body_member(
    app_client: TestClient, auth: dict[str, str], value: Any
) -> None:
    for member in ("type", "fields", "message"):
        if member == "message" and isinstance(value, str):
            continue  # any text is a message
        body = {"type": "page", "fields": page(), "message": ""} | {member: value}
        answer = app_client.post(API, json=body, headers=auth)
        assert answer.status_code == 422, (member, value)
        errors = answer.json()["errors"]
        assert errors and all(isinstance(m, str) and m for m in errors.values())
    create(app_client, auth, "page", page())
    for member in ("revision", "at"):
        answer = app_client.post(f"{API}/page:/about/publish", json={member: value}, headers=auth)
        if value is None or (value == 1 and value is not True):  # revision 1; a moment long past
            assert answer.status_code == 200
        else:
            assert answer.status_code in (404, 422), (member, value, answer.text)


def test_publish_revisions_diff_and_revert(
    app_client: TestClient, auth: dict[str, str], outbox: Outbox
) -> None:
    create(app_client, auth, "page", page())
    published = app_client.post(f"{API}/page:/about/publish", json={}, headers=auth)
    assert published.json()["status"] == "published"
    app_client.put(
        f"{API}/page:/about",
        json={"fields": page(title="About us")},
        headers=auth | {"If-Match": '"1"'},
    )
    history = app_client.get(f"{API}/page:/about/revisions", headers=auth).json()
    assert [(r["revision"], r["live"], r["author"]) for r in history["revisions"]] == [
        (2, False, "admin"),
        (1, True, "admin"),
    ]
    diff = app_client.get(f"{API}/page:/about/diff", headers=auth).json()
    assert (diff["a"], diff["b"]) == (2, 1)
    assert [(c["field"], c["before"], c["after"]) for c in diff["changes"]] == [
        ("title", "About the dojo", "About us")
    ]
    assert (
        app_client.get(f"{API}/page:/about/diff", params={"a": "1", "b": "2"}, headers=auth).json()[
            "changes"
        ][0]["after"]
        == "About the dojo"
    )
    assert (
        app_client.get(f"{API}/page:/about/diff", params={"a": "x"}, headers=auth).status_code
        == 422
    )
    reverted = app_client.post(f"{API}/page:/about/revert", json={"revision": 1}, headers=auth)
    assert (reverted.status_code, reverted.json()) == (201, {"id": "page:/about", "revision": 3})
    assert app_client.post(f"{API}/page:/about/revert", json={}, headers=auth).status_code == 422
    gone = app_client.post(f"{API}/page:/about/unpublish", json={}, headers=auth).json()
    assert gone["status"] == "unpublished"
    catalogue = [(m.key, m.value is None) for m in outbox.messages if m.topic == "dojo.content"]
    assert catalogue[-2:] == [("page:/about", False), ("page:/about", True)]


def test_unknown_items_are_404(app_client: TestClient, auth: dict[str, str]) -> None:
    for path in (
        f"{API}/event:nope",
        f"{API}/event:nope/revisions",
        f"{API}/page:/x/y/diff",
        f"{API}/%00",
    ):
        assert app_client.get(path, headers=auth).status_code == 404
    assert app_client.post(f"{API}/event:nope/publish", json={}, headers=auth).status_code == 404


def test_scheduled_publish_goes_live_when_due(app_client: TestClient, auth: dict[str, str]) -> None:
    create(app_client, auth, "resource", resource())
    at = time.time_ns() // 1_000_000 + 400
    item = app_client.post(
        f"{API}/resource:scratch-starter-cards/publish", json={"at": at}, headers=auth
    ).json()
    assert item["status"] == "scheduled" and item["scheduled"]["publish"]["at_ms"] == at
    wait_for(
        lambda: (
            app_client.get(f"{API}/resource:scratch-starter-cards", headers=auth).json()["status"]
            == "published"
        )
    )
    iso = app_client.post(
        f"{API}/resource:scratch-starter-cards/unpublish",
        json={"at": "2999-01-01T00:00:00+00:00"},
        headers=auth,
    )
    assert iso.json()["scheduled"]["unpublish"]["at_ms"] == 32_472_144_000_000


def test_the_catalogue_is_sent_again_at_start(
    settings: Settings, rdb: redis.Redis, auth: dict[str, str]
) -> None:
    engine = open_store(settings)
    service = ContentService(engine, Outbox())
    service.create("page", page(), "seed")
    service.create("page", page("/contact"), "seed")
    service.publish("page:/contact")
    engine.dispose()
    outbox = Outbox()
    store = HistoryStore(settings)
    app = create_app(
        settings, offsets=FixedOffsets({}), content=ContentDesk(settings, store, outbox)
    )
    with TestClient(app):
        sent = wait_for(
            lambda: [(m.key, orjson.loads(m.value or b"null")) for m in outbox.messages]
        )
    store.close()
    assert [(key, value and value["revision"]) for key, value in sent] == [
        ("page:/about", None),
        ("page:/contact", 1),
    ]


def test_a_second_start_of_a_running_desk_is_refused(settings: Settings, rdb: redis.Redis) -> None:
    store = HistoryStore(settings)
    desk = ContentDesk(settings, store, Outbox(), every_s=60)

    async def twice() -> None:
        await desk.start()
        try:
            with pytest.raises(RuntimeError, match="already running"):
                await desk.start()
        finally:
            await desk.stop()
        await desk.start()  # stopped, it may start again
        await desk.stop()

    asyncio.run(twice())
    store.close()
