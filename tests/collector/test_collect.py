"""POST /collect: every answer it can give, and what reaches the sink."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
from starlette.testclient import TestClient

from stream.settings import Settings
from tests.collector.conftest import NOON, Clock, MemorySink, event


def post_json(client: TestClient, body: object, **headers: str) -> object:
    return client.post(
        "/collect",
        content=orjson.dumps(body),
        headers={"content-type": "application/json", **headers},
    )


def test_batch_is_accepted_as_one_raw_message(
    client: TestClient, sink: MemorySink, collector_settings: Settings
) -> None:
    events = [event(0), event(1)]
    response = client.post("/collect", json={"events": events})
    assert response.status_code == 202
    assert response.json() == {"accepted": 2}
    assert len(sink.messages) == 1
    key, value = sink.messages[0]
    assert key == b"sess_abcdef12"
    raw = orjson.loads(value)
    assert raw["events"] == events
    assert raw["received_at"] == int(NOON * 1000)
    assert raw["site"] == collector_settings.site_id
    assert raw["device"] == "mobile"
    assert raw["bot"] is False
    assert len(raw["visitor_id"]) == 32
    assert raw["v"] == 1


def test_single_event_object_is_accepted(client: TestClient, sink: MemorySink) -> None:
    response = client.post("/collect", json=event(5))
    assert response.status_code == 202
    assert response.json() == {"accepted": 1}
    assert orjson.loads(sink.messages[0][1])["events"] == [event(5)]


def test_text_plain_from_send_beacon_is_accepted(client: TestClient, sink: MemorySink) -> None:
    response = client.post(
        "/collect",
        content=orjson.dumps({"events": [event(1)]}),
        headers={"content-type": "text/plain;charset=UTF-8"},
    )
    assert response.status_code == 202
    assert len(sink.messages) == 1


def test_events_are_not_judged_here(client: TestClient, sink: MemorySink) -> None:
    # The validate agent sends these to the dead-letter topic with a reason.
    junk = [{"type": "nonsense"}, 42, "text"]
    response = client.post("/collect", json={"events": junk})
    assert response.status_code == 202
    key, value = sink.messages[0]
    assert key == b"unknown"
    assert orjson.loads(value)["events"] == junk


def test_non_string_session_id_gives_unknown_key(client: TestClient, sink: MemorySink) -> None:
    client.post("/collect", json={"events": [{**event(0), "session_id": 12345}]})
    assert sink.messages[0][0] == b"unknown"


def test_wrong_media_type_is_415(client: TestClient, sink: MemorySink) -> None:
    response = client.post(
        "/collect", content=b"a=1", headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"
    assert sink.messages == []


def test_missing_media_type_is_415(client: TestClient) -> None:
    assert client.post("/collect", content=b"{}").status_code == 415


def test_bad_json_is_400(client: TestClient, sink: MemorySink) -> None:
    response = client.post(
        "/collect", content=b'{"events": [', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "bad_json"
    assert body["detail"]
    assert sink.messages == []


def test_bad_envelopes_are_400(client: TestClient, sink: MemorySink) -> None:
    for body in ([event(0)], {"events": []}, {"events": {"a": 1}}, "text", 17, None):
        response = post_json(client, body)
        assert response.status_code == 400, body  # type: ignore[attr-defined]
        assert response.json()["error"] == "bad_envelope"  # type: ignore[attr-defined]
    assert sink.messages == []


def test_too_many_events_is_413(
    client: TestClient, collector_settings: Settings, sink: MemorySink
) -> None:
    n = collector_settings.max_events
    ok = client.post("/collect", json={"events": [event(i) for i in range(n)]})
    assert ok.status_code == 202
    response = client.post("/collect", json={"events": [event(i) for i in range(n + 1)]})
    assert response.status_code == 413
    assert response.json()["error"] == "too_many_events"
    assert len(sink.messages) == 1


def test_declared_length_over_limit_is_413(
    client: TestClient, collector_settings: Settings, sink: MemorySink
) -> None:
    response = client.post(
        "/collect",
        content=b"{}",
        headers={
            "content-type": "application/json",
            "content-length": str(collector_settings.max_body_bytes + 1),
        },
    )
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"
    assert sink.messages == []


def test_streamed_body_over_limit_is_413(
    client: TestClient, collector_settings: Settings, sink: MemorySink
) -> None:
    sent: list[int] = []

    def chunks() -> Iterator[bytes]:
        # No Content-Length: only counting the streamed bytes can catch this one.
        for _ in range(200):
            sent.append(1)
            yield b" " * 1024

    response = client.post(
        "/collect", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"
    assert sink.messages == []
    assert collector_settings.max_body_bytes < 200 * 1024


def test_body_at_the_limit_is_read(
    client: TestClient, collector_settings: Settings, sink: MemorySink
) -> None:
    body = orjson.dumps({"events": [event(0)]})
    padded = body + b" " * (collector_settings.max_body_bytes - len(body))
    response = client.post("/collect", content=padded, headers={"content-type": "text/plain"})
    assert response.status_code == 202
    assert len(sink.messages) == 1


def test_sink_unavailable_is_503_and_nothing_recorded(client: TestClient, sink: MemorySink) -> None:
    sink.available = False
    response = client.post("/collect", json={"events": [event(0)]})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"
    assert response.json()["error"] == "unavailable"
    assert sink.messages == []
    sink.available = True
    assert client.post("/collect", json={"events": [event(0)]}).status_code == 202


def test_lifespan_starts_and_stops_the_sink(collector_settings: Settings, clock: Clock) -> None:
    from collector.app import create_app

    sink = MemorySink()
    with TestClient(create_app(collector_settings, sink=sink, clock=clock)):
        assert sink.started and not sink.stopped
    assert sink.stopped


def test_get_collect_is_405(client: TestClient) -> None:
    assert client.get("/collect").status_code == 405
