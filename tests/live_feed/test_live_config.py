"""``GET /api/config``: the settings the panel needs, for admins only."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

from starlette.testclient import TestClient

from live_feed import create_app
from live_feed.term import school_term
from stream.settings import Settings
from tests.live_feed.conftest import FixedOffsets


def test_config_names_this_term_for_admins_only(client: TestClient, auth: dict[str, str]) -> None:
    assert client.get("/api/config").status_code == 401
    assert client.get("/api/config", headers={"Authorization": "Bearer nope"}).status_code == 401
    response = client.get("/api/config", headers=auth)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    first, last = school_term(datetime.now(UTC).date())
    assert response.json() == {"term": {"start": first.isoformat(), "end": last.isoformat()}}
    assert first <= datetime.now(UTC).date()


def test_config_carries_the_configured_term(settings: Settings, auth: dict[str, str]) -> None:
    termed = replace(settings, term_start="2026-09-07", term_end="2026-12-18")
    with TestClient(create_app(termed, offsets=FixedOffsets({}))) as client:
        body = client.get("/api/config", headers=auth).json()
    assert body == {"term": {"start": "2026-09-07", "end": "2026-12-18"}}
    assert date.fromisoformat(body["term"]["start"]) < date.fromisoformat(body["term"]["end"])
