"""``GET /api/experiments/assign``: the asker's variants from the published definitions."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from collector.app import create_app
from stream.content.messages import Outbox
from stream.content.service import ContentService
from stream.experiments.assignment import assign
from stream.experiments.definition import plan_of
from stream.settings import Secret, Settings
from stream.store import open_store
from tests.collector.conftest import CLIENT_IP, IPHONE_UA, Clock, MemorySink
from tests.collector.test_site_api import own_visitor

SITE = {"origin": "https://dojo.example"}


def definition(key: str, **extra: Any) -> dict[str, Any]:
    return {"key": key, "title": key, "variants": "blue: 50, orange: 50", "unit": "visitor",
            "primary": "goal:newsletter", "status": "running", **extra}  # fmt: skip


@pytest.fixture
def store_settings(collector_settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    settings = dataclasses.replace(
        collector_settings, database_url=Secret(f"sqlite:///{tmp_path / 'pulse.db'}")
    )
    engine = open_store(settings)
    service = ContentService(engine, Outbox())
    for fields in (
        definition("cta_colour"),
        definition("per_session", unit="session"),
        definition("paused", status="paused"),
        definition("hero", layer="home", layer_start=0, layer_end=50),
        definition("banner", layer="home", layer_start=50, layer_end=100),
    ):
        service.create("experiment", fields, "admin", "")
        service.publish(f"experiment:{fields['key']}")
    service.create("experiment", definition("draft_only"), "admin", "")
    yield settings
    engine.dispose()


@pytest.fixture
def site(store_settings: Settings, sink: MemorySink, clock: Clock) -> Iterator[TestClient]:
    app = create_app(store_settings, sink=sink, clock=clock)
    with TestClient(app, client=(CLIENT_IP, 50123), headers={"user-agent": IPHONE_UA} | SITE) as c:
        yield c


def test_the_asker_gets_their_variant_stable_and_as_the_hash_says(
    site: TestClient, store_settings: Settings
) -> None:
    reply = site.get("/api/experiments/assign", params={"experiment": "cta_colour"})
    assert reply.status_code == 200
    assert reply.headers["cache-control"] == "private, no-store"
    body = reply.json()
    expected = assign([plan_of(definition("cta_colour"))], {"visitor": own_visitor(store_settings)})
    assert body == {"experiment": "cta_colour", "variant": expected["cta_colour"]}
    again = site.get("/api/experiments/assign", params={"experiment": "cta_colour"})
    assert again.json() == body


def test_all_running_experiments_at_once_and_layers_exclusive(site: TestClient) -> None:
    variants = site.get("/api/experiments/assign").json()["variants"]
    assert "cta_colour" in variants
    assert "paused" not in variants and "draft_only" not in variants
    assert "per_session" not in variants  # its unit is the session: none was named
    assert len({"hero", "banner"} & set(variants)) == 1
    with_session = site.get("/api/experiments/assign", params={"session": "sess_abcdef12"})
    assert with_session.json()["variants"]["per_session"] in {"blue", "orange"}


@pytest.mark.parametrize("key", ["paused", "draft_only", "nope"])
def test_unknown_paused_or_unpublished_experiments_are_404(site: TestClient, key: str) -> None:
    reply = site.get("/api/experiments/assign", params={"experiment": key})
    assert reply.status_code == 404
    assert reply.json() == {
        "error": "unknown_experiment",
        "detail": f"no running experiment {key!r}",
    }


@pytest.mark.parametrize(
    "query",
    [
        "experiment=Bad%20Key", "experiment=", "experiment=" + "a" * 65, "experiment=%ff%fe",
        "experiment=%00", "session=short", "session=" + "s" * 65, "session=%E2%9C%93abcdefgh",
        "visitor=abc", "experiment=cta_colour&unit=visitor",
    ],
)  # fmt: skip
def test_hostile_queries_are_400_with_a_reason(site: TestClient, query: str) -> None:
    reply = site.get(f"/api/experiments/assign?{query}")
    assert reply.status_code == 400
    assert reply.json()["error"] == "bad_query" and reply.json()["detail"]


def test_other_origins_are_refused(site: TestClient) -> None:
    reply = site.get("/api/experiments/assign", headers={"origin": "https://evil.example"})
    assert reply.status_code == 403


def test_an_unreachable_store_is_503_with_retry(
    collector_settings: Settings, sink: MemorySink, clock: Clock
) -> None:
    settings = dataclasses.replace(
        collector_settings, database_url=Secret("postgresql://nobody:pw@127.0.0.1:1/none")
    )
    with TestClient(create_app(settings, sink=sink, clock=clock), headers=SITE) as c:
        reply = c.get("/api/experiments/assign")
    assert reply.status_code == 503 and reply.headers["retry-after"]
    assert "pw" not in reply.text


def test_the_store_holds_no_visitor_after_assignment(
    site: TestClient, store_settings: Settings
) -> None:
    site.get("/api/experiments/assign")
    engine = sa.create_engine(store_settings.database_url.reveal())
    with engine.connect() as conn:
        dump = "\n".join(str(row) for row in conn.exec_driver_sql("SELECT * FROM sqlite_master"))
        tables = [
            r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        rows = "\n".join(
            str(r) for t in tables for r in conn.exec_driver_sql(f'SELECT * FROM "{t}"')
        )
    engine.dispose()
    assert CLIENT_IP not in rows + dump and "iPhone" not in rows
