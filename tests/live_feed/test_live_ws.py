"""The /ws/live WebSocket against the real test Redis."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
import redis
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from tests.live_feed.conftest import KEYS


def is_update(channel: str, key: str, value: Any) -> Any:
    return lambda m: (
        m.get("type") == "update"
        and m.get("channel") == channel
        and isinstance(m.get("data"), dict)
        and m["data"].get(key) == value
    )


def test_missing_token_is_refused_with_4401(client: TestClient) -> None:
    with client.websocket_connect("/ws/live") as ws:
        ws.send_json({"subscribe": ["traffic"]})  # not a token message
        with pytest.raises(WebSocketDisconnect) as refused:
            ws.receive_json()
    assert refused.value.code == 4401


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer wrong-token"},
        {"X-Dojo-Token": "wrong-token"},
        {"Cookie": "dojo_session=wrong-token"},
        {"Cookie": "dojo_token=wrong-token"},
    ],
)
def test_wrong_token_is_refused(client: TestClient, headers: dict[str, str]) -> None:
    with (
        client.websocket_connect("/ws/live", headers=headers) as ws,
        pytest.raises(WebSocketDisconnect) as refused,
    ):
        ws.receive_json()
    assert refused.value.code == 4401


def test_token_in_query_is_not_accepted(client: TestClient, token: str) -> None:
    with client.websocket_connect(f"/ws/live?token={token}") as ws:
        ws.send_json({"subscribe": ["traffic"]})
        with pytest.raises(WebSocketDisconnect) as refused:
            ws.receive_json()
    assert refused.value.code == 4401


def signed_in(client: TestClient, token: str) -> str:
    """A session cookie header, from a real sign-in (the client's jar is left empty)."""
    response = client.post("/login", data={"token": token}, follow_redirects=False)
    client.cookies.clear()
    return f"dojo_session={response.cookies['dojo_session']}"


def test_cookie_from_another_site_is_refused(client: TestClient, token: str) -> None:
    headers = {"Cookie": signed_in(client, token), "Origin": "https://evil.example"}
    with (
        client.websocket_connect("/ws/live", headers=headers) as ws,
        pytest.raises(WebSocketDisconnect) as refused,
    ):
        ws.receive_json()
    assert refused.value.code == 4401


@pytest.mark.parametrize("header", ["Authorization", "X-Dojo-Token", "Cookie"])
def test_token_via_header_or_cookie_is_accepted(
    client: TestClient, header: str, reader: Callable[..., Any], token: str
) -> None:
    value = {"Authorization": f"Bearer {token}", "X-Dojo-Token": token}.get(header)
    value = value or signed_in(client, token)
    headers = {header: value}
    with client.websocket_connect("/ws/live", headers=headers) as ws:
        ws.send_json({"subscribe": ["forms"]})
        snap = reader(ws, lambda m: m.get("type") == "snapshot")
    assert snap == {"channel": "forms", "type": "snapshot", "data": None, "ts": snap["ts"]}


def test_token_as_first_message_is_accepted(
    client: TestClient, reader: Callable[..., Any], token: str
) -> None:
    with client.websocket_connect("/ws/live") as ws:
        ws.send_json({"token": token})
        ws.send_json({"subscribe": ["vitals"]})
        snap = reader(ws, lambda m: m.get("type") == "snapshot")
    assert snap["channel"] == "vitals"


def test_token_never_reaches_the_logs(
    client: TestClient,
    caplog: pytest.LogCaptureFixture,
    reader: Callable[..., Any],
    auth: dict[str, str],
    token: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    with (
        client.websocket_connect("/ws/live", headers={"Authorization": "Bearer nope"}) as ws,
        pytest.raises(WebSocketDisconnect),
    ):
        ws.receive_json()
    with client.websocket_connect("/ws/live") as ws:
        ws.send_json({"token": token})
        ws.send_json({"subscribe": ["traffic"]})
        reader(ws, lambda m: m.get("type") == "snapshot")
    client.get("/api/snapshot/traffic", headers=auth)
    client.post("/login", content=f"token={token}", follow_redirects=False)
    assert caplog.records, "expected the app and its libraries to log something"
    assert token not in caplog.text
    assert "nope" not in caplog.text


def test_subscribe_gets_snapshot_then_updates(
    client: TestClient,
    rdb: redis.Redis,
    publisher: Callable[..., None],
    reader: Callable[..., Any],
    auth: dict[str, str],
) -> None:
    publisher("traffic", {"active_visitors": 3}, ts=1_000, store=True)
    with client.websocket_connect("/ws/live", headers=auth) as ws:
        ws.send_json({"subscribe": ["traffic"]})
        snap = reader(ws, lambda m: m.get("type") == "snapshot")
        assert snap == {
            "channel": "traffic",
            "type": "snapshot",
            "data": {"active_visitors": 3},
            "ts": 1_000,
        }
        publisher("traffic", {"active_visitors": 7}, ts=2_000)
        update = reader(ws, is_update("traffic", "active_visitors", 7))
    assert update == {
        "channel": "traffic",
        "type": "update",
        "data": {"active_visitors": 7},
        "ts": 2_000,
    }


def test_updates_are_coalesced_and_the_latest_wins(
    client: TestClient,
    rdb: redis.Redis,
    publisher: Callable[..., None],
    reader: Callable[..., Any],
    auth: dict[str, str],
) -> None:
    seen: list[dict[str, Any]] = []
    with client.websocket_connect("/ws/live", headers=auth) as ws:
        ws.send_json({"subscribe": ["traffic"]})
        reader(ws, lambda m: m.get("type") == "snapshot")
        for seq in range(100):
            publisher("traffic", {"seq": seq}, ts=10_000 + seq)
        reader(ws, is_update("traffic", "seq", 99), seen=seen)
    updates = [m for m in seen if m.get("type") == "update"]
    assert updates[-1]["data"] == {"seq": 99}
    assert len(updates) < 20  # 4 Hz cap: a burst of 100 collapses to a handful
    seqs = [m["data"]["seq"] for m in updates]
    assert seqs == sorted(seqs)
    metrics = client.get("/metrics").text
    coalesced = next(
        float(line.split()[-1])
        for line in metrics.splitlines()
        if line.startswith("dojo_live_messages_coalesced_total")
    )
    assert coalesced >= 100 - len(updates)


def test_only_subscribed_channels_arrive_and_unsubscribe_stops_them(
    client: TestClient,
    rdb: redis.Redis,
    publisher: Callable[..., None],
    reader: Callable[..., Any],
    auth: dict[str, str],
) -> None:
    seen: list[dict[str, Any]] = []
    with client.websocket_connect("/ws/live", headers=auth) as ws:
        ws.send_json({"subscribe": ["traffic", "forms"]})
        reader(ws, lambda m: m.get("channel") == "forms" and m["type"] == "snapshot")
        ws.send_json({"unsubscribe": ["traffic"]})
        # The reply to this message proves the unsubscribe before it was applied.
        ws.send_json({"subscribe": ["vitals"]})
        reader(ws, lambda m: m.get("channel") == "vitals")
        publisher("traffic", {"n": 1}, ts=1)
        publisher("pipeline", {"n": 1}, ts=1)
        publisher("forms", {"n": 2}, ts=2)
        reader(ws, is_update("forms", "n", 2), seen=seen)
    assert [m["channel"] for m in seen] == ["forms"]


def test_bad_messages_get_errors_then_a_close(
    client: TestClient, reader: Callable[..., Any], auth: dict[str, str]
) -> None:
    with client.websocket_connect("/ws/live", headers=auth) as ws:
        for bad in ["not json", "[1]", '{"subscribe": ["BAD NAME"]}', '{"what": 1}']:
            ws.send_text(bad)
            error = reader(ws, lambda m: m.get("type") == "error")
            assert error["detail"]
        ws.send_json({"subscribe": ["traffic"]})
        assert reader(ws, lambda m: m.get("type") == "snapshot")["channel"] == "traffic"
        for _ in range(30):
            ws.send_text("garbage")
        with pytest.raises(WebSocketDisconnect) as closed:
            reader(ws, lambda m: False)
    assert closed.value.code == 1008


def test_heartbeat_pings_arrive(
    client: TestClient, reader: Callable[..., Any], auth: dict[str, str]
) -> None:
    with client.websocket_connect("/ws/live", headers=auth) as ws:
        ping = reader(ws, lambda m: m.get("type") == "ping")
    assert isinstance(ping["ts"], int)


def test_malformed_publications_are_ignored(
    client: TestClient,
    rdb: redis.Redis,
    publisher: Callable[..., None],
    reader: Callable[..., Any],
    auth: dict[str, str],
) -> None:
    with client.websocket_connect("/ws/live", headers=auth) as ws:
        ws.send_json({"subscribe": ["traffic"]})
        reader(ws, lambda m: m.get("type") == "snapshot")
        rdb.publish(KEYS.live("traffic"), b"{broken")
        rdb.publish(KEYS.live("Bad-Name"), b'{"data": 1}')
        publisher("traffic", {"ok": True}, ts=5)
        update = reader(ws, lambda m: m.get("type") == "update")
    assert update["data"] == {"ok": True}
    assert "dojo_live_pubsub_malformed_total 2.0" in client.get("/metrics").text
