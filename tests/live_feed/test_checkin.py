"""The mentors' check-in API: its own token, today's events, arrivals judged field by field."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import orjson
import pytest
import redis
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from live_feed import create_app
from stream.ingest.contract import validate_event
from stream.settings import Secret, Settings
from tests.live_feed.conftest import FixedOffsets, publish

CODE = "door-code-7"
DAY_MS = 86_400_000


class Recorder:
    """The arrivals the app hands to its sink (Kafka in production)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.down = False

    async def send(self, session_id: str, raw: bytes) -> None:
        if self.down:
            raise OSError("broker away")
        self.sent.append((session_id, orjson.loads(raw)))


@pytest.fixture
def door(settings: Settings, rdb: redis.Redis) -> Iterator[tuple[TestClient, Recorder]]:
    app = create_app(replace(settings, checkin_token=Secret(CODE)), offsets=FixedOffsets({}))
    sink = Recorder()
    app.state.checkin_sink = sink
    with TestClient(app) as client:
        yield client, sink


def mentor() -> dict[str, str]:
    return {"Authorization": f"Bearer {CODE}"}


def arrival(**overrides: Any) -> dict[str, Any]:
    return {"id": "arrival_00000001", "event_id": "event:scratch-2026-12-05", "count": 2,
            "walk_in": False, "ts": int(time.time() * 1000), **overrides}  # fmt: skip


def test_the_page_needs_a_check_in_token_configured(client: TestClient, door: Any) -> None:
    assert client.get("/checkin").status_code == 404  # no DOJO_CHECKIN_TOKEN: no page
    page = door[0].get("/checkin")
    assert page.status_code == 200 and "dojo_checkin.js" in page.text


def test_only_the_check_in_token_opens_the_api(door: Any, token: str) -> None:
    client, _ = door
    assert client.get("/api/checkin/events").status_code == 401
    admin = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/checkin/events", headers=admin).status_code == 401
    assert client.post("/api/checkin/attendance", json=arrival(), headers=admin).status_code == 401
    for _ in range(3):
        client.get("/api/checkin/events", headers={"Authorization": "Bearer guess"})
    throttled = client.get("/api/checkin/events", headers=mentor())
    assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) > 0


def test_todays_events_come_from_the_dojo_snapshot(door: Any, rdb: redis.Redis) -> None:
    client, _ = door
    now = int(time.time() * 1000)
    today = now - now % DAY_MS
    rows = [{"id": "event:today", "title": "Scratch", "starts_ms": today + 1, "capacity": 30,
             "net_tickets": 24, "attended": 3, "by_day": {}},
            {"id": "event:next-week", "title": "Python", "starts_ms": today + 7 * DAY_MS},
            {"id": "event:unknown", "title": "?", "starts_ms": None}]  # fmt: skip
    publish(rdb, "dojo", {"registrations": {"events": rows}}, now)
    got = client.get("/api/checkin/events", headers=mentor()).json()["events"]
    assert got == [{"id": "event:today", "title": "Scratch", "starts_ms": today + 1,
                    "capacity": 30, "net_tickets": 24, "attended": 3}]  # fmt: skip


def test_an_arrival_becomes_one_valid_attendance_event(door: Any) -> None:
    client, sink = door
    sent = client.post("/api/checkin/attendance", json=arrival(walk_in=True), headers=mentor())
    assert sent.status_code == 202
    [(session, raw)] = sink.sent
    [event] = raw["events"]
    assert session == event["session_id"] and raw["visitor_id"] == "checkin"
    judged = validate_event(event, raw["received_at"])
    assert isinstance(judged, dict)
    assert judged["props"] == {
        "dojo_event_id": "event:scratch-2026-12-05",
        "count": 2,
        "walk_in": True,
    }
    assert event["event_id"] == "arrival_00000001"  # sent again, the dedupe counts it once


def test_kafka_away_is_503_so_the_phone_keeps_its_queue(door: Any) -> None:
    client, sink = door
    sink.down = True
    refused = client.post("/api/checkin/attendance", json=arrival(), headers=mentor())
    assert refused.status_code == 503 and refused.headers["retry-after"] == "5"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=80) | st.sampled_from(["", "a" * 65, "é" * 30, "\x00", "event:x"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)  # fmt: skip


@hsettings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    field=st.sampled_from(["id", "event_id", "count", "walk_in", "ts", "extra"]), value=json_values
)
def test_any_json_in_any_field_is_judged(door: Any, field: str, value: Any) -> None:
    client, sink = door
    before = len(sink.sent)
    answer = client.post(
        "/api/checkin/attendance", json=arrival(**{field: value}), headers=mentor()
    )
    assert answer.status_code in (202, 400)
    if answer.status_code == 400:
        assert answer.json()["field"] in (field, "")
        assert len(sink.sent) == before
    else:
        [event] = sink.sent[-1][1]["events"]
        assert isinstance(validate_event(event, sink.sent[-1][1]["received_at"]), dict)


@pytest.mark.parametrize(
    "body", [b"", b"not json", b"[1]", b"\xff\xfe", b'"x"', b"{" * 600, b"1" * 2000],
)  # fmt: skip
def test_bodies_that_are_not_an_arrival_are_refused(door: Any, body: bytes) -> None:
    client, sink = door
    answer = client.post("/api/checkin/attendance", content=body, headers=mentor())
    assert answer.status_code in (400, 413)
    assert sink.sent == []


def test_kept_reports_are_listed_and_served_to_admins_only(
    client: TestClient, settings: Settings, auth: dict[str, str]
) -> None:
    kept = settings.data_dir / "reports"
    kept.mkdir(parents=True)
    (kept / "daily-2026-12-01.eml").write_bytes(b"Subject: daily\r\n\r\nfigures")
    (kept / "notes.txt").write_bytes(b"not a report")
    assert client.get("/api/reports").status_code == 401
    listed = client.get("/api/reports", headers=auth).json()["reports"]
    assert [r["name"] for r in listed] == ["daily-2026-12-01.eml"]
    one = client.get("/api/reports/daily-2026-12-01.eml", headers=auth)
    assert one.status_code == 200 and one.headers["content-type"].startswith("message/rfc822")
    for name in ("notes.txt", "..%2F..%2Fsecret.eml", "daily-2026-12-01.eml%00", "x" * 300):
        assert client.get(f"/api/reports/{name}", headers=auth).status_code == 404
