"""The site's content API on the collector: published only, ETag/304, caching, CORS, bad queries."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from collector.app import create_app
from stream.content import ContentService
from stream.content.messages import Outbox
from stream.settings import Settings
from stream.store import open_store
from tests.collector.conftest import Clock, MemorySink
from tests.store.content_items import event, page, resource

NOW = 1_796_468_400.0  # 2026-12-05T11:00:00Z: during the scratch session of 10:00-12:00
SITE = "https://dojo.example"


@pytest.fixture
def store(collector_settings: Settings) -> Iterator[sa.Engine]:
    engine = open_store(collector_settings)
    yield engine
    engine.dispose()


@pytest.fixture
def service(store: sa.Engine) -> ContentService:
    return ContentService(store, Outbox())


@pytest.fixture
def site(collector_settings: Settings, store: sa.Engine) -> Iterator[TestClient]:
    app = create_app(collector_settings, sink=MemorySink(), clock=Clock(NOW))
    with TestClient(app, headers={"origin": SITE}) as test_client:
        yield test_client


def live(service: ContentService, type_name: str, fields: dict[str, object]) -> str:
    item_id = service.create(type_name, fields, "seed").item_id
    service.publish(item_id)
    return item_id


def test_drafts_and_newer_edits_never_leak(service: ContentService, site: TestClient) -> None:
    live(service, "event", event())
    service.update("event:scratch-2026-12-05", event(title="SECRET DRAFT"), 1, "admin")
    service.create("event", event("draft-only", title="SECRET NEW"), "admin")
    live(service, "page", page())
    service.update("page:/about", page(body="<p>SECRET BODY</p>"), 1, "admin")
    service.create("resource", resource(title="SECRET RESOURCE"), "admin")
    answers = [
        site.get("/api/content/events"),
        site.get("/api/content/events", params={"upcoming": "1"}),
        site.get("/api/content/resources"),
        site.get("/api/content/pages/about"),
    ]
    assert [a.status_code for a in answers] == [200, 200, 200, 200]
    assert all(b"SECRET" not in a.content for a in answers)
    assert answers[0].json() == {
        "items": [{"id": "event:scratch-2026-12-05", "revision": 1, **event()}]
    }
    assert answers[2].json() == {"items": []}
    assert answers[3].json() == {"id": "page:/about", "revision": 1, **page()}
    assert site.get("/api/content/pages/nowhere").status_code == 404
    service.unpublish("page:/about")
    assert site.get("/api/content/pages/about").status_code == 404


def test_events_from_and_upcoming(service: ContentService, site: TestClient) -> None:
    live(service, "event", event())  # 10:00-12:00 on the 5th: running now
    live(
        service,
        "event",
        event(
            "python-2026-11-28",
            starts_at="2026-11-28T10:00:00+00:00",
            ends_at="2026-11-28T12:00:00+00:00",
            registration_opens=None,
            registration_closes=None,
        ),
    )
    live(
        service,
        "event",
        event(
            "web-2026-12-12",
            starts_at="2026-12-12T10:00:00+01:00",
            ends_at="2026-12-12T12:00:00+01:00",
            registration_opens=None,
            registration_closes=None,
        ),
    )

    def ids(**params: str) -> list[str]:
        return [i["id"] for i in site.get("/api/content/events", params=params).json()["items"]]

    assert ids() == ["event:python-2026-11-28", "event:scratch-2026-12-05", "event:web-2026-12-12"]
    assert ids(upcoming="1") == ["event:scratch-2026-12-05", "event:web-2026-12-12"]
    assert ids(**{"from": "2026-12-06"}) == ["event:web-2026-12-12"]
    assert ids(**{"from": "2026-12-12T11:30:00+00:00"}) == []  # 12:00+01:00 is 11:00Z


def test_resources_by_tag(service: ContentService, site: TestClient) -> None:
    live(service, "resource", resource())
    live(service, "resource", resource("python-first-steps", tags=["python"]))
    by_tag = site.get("/api/content/resources", params={"tag": "python"}).json()["items"]
    assert [i["id"] for i in by_tag] == ["resource:python-first-steps"]
    assert site.get("/api/content/resources", params={"tag": "none"}).json() == {"items": []}


def test_strong_etag_and_304_and_caching(service: ContentService, site: TestClient) -> None:
    live(service, "page", page())
    first = site.get("/api/content/pages/about")
    etag = first.headers["etag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert first.headers["cache-control"] == "public, max-age=30"
    assert "origin" in first.headers["vary"].lower()
    again = site.get("/api/content/pages/about", headers={"if-none-match": etag})
    assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", etag)
    service.update("page:/about", page(title="About us"), 1, "admin")
    service.publish("page:/about")
    changed = site.get("/api/content/pages/about", headers={"if-none-match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert changed.json()["title"] == "About us"


def test_cors_for_the_site_only(service: ContentService, site: TestClient) -> None:
    ours = site.get("/api/content/events")
    assert ours.headers["access-control-allow-origin"] == SITE
    theirs = site.get("/api/content/events", headers={"origin": "https://evil.example"})
    assert "access-control-allow-origin" not in theirs.headers
    preflight = site.options(
        "/api/content/events", headers={"access-control-request-method": "GET"}
    )
    assert preflight.status_code == 200


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"upcoming": "yes"}, "upcoming"),
        ({"upcoming": "2"}, "upcoming"),
        ({"from": "tomorrow"}, "from"),
        ({"from": "2026-13-01"}, "from"),
        ({"from": "9" * 100}, "from"),
        ({"from": "2026-12-05\x00"}, "from"),
    ],
)
def test_bad_event_queries_are_400(site: TestClient, query: dict[str, str], field: str) -> None:
    answer = site.get("/api/content/events", params=query)
    assert answer.status_code == 400 and field in answer.json()["detail"]


def test_hostile_paths_and_tags(service: ContentService, site: TestClient) -> None:
    live(service, "page", page())
    for path in (
        "../../etc/passwd",
        "about%00",
        "ABOUT",
        "a" * 500,
        "%ff%fe",
        "🚀",
    ):
        answer = site.get(f"/api/content/pages/{path}")
        assert answer.status_code == 404, path
    assert site.get("/api/content/pages/about/").json()["id"] == "page:/about"
    assert site.get("/api/content/resources", params={"tag": "x" * 41}).status_code == 400
    assert site.get(
        "/api/content/resources", params={"tag": "'; DROP TABLE content_items; --"}
    ).json() == {"items": []}


def test_a_store_that_cannot_be_opened_is_503(
    collector_settings: Settings, tmp_path: object
) -> None:
    from dataclasses import replace

    from stream.settings import Secret

    broken = replace(
        collector_settings, database_url=Secret("postgresql://nobody@127.0.0.1:1/none")
    )
    with TestClient(create_app(broken, sink=MemorySink(), clock=Clock(NOW))) as client:
        answer = client.get("/api/content/events")
    assert answer.status_code == 503 and b"nobody" not in answer.content
    assert orjson.loads(answer.content)["error"] == "unavailable"
