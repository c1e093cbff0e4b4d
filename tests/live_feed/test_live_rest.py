"""REST routes of the live feed: snapshots, health, metrics, login and security headers."""

from __future__ import annotations

from collections.abc import Callable

import redis
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from stream.models.keys import Keys
from stream.settings import Settings


def test_snapshot_requires_the_token(client: TestClient) -> None:
    assert client.get("/api/snapshot/traffic").status_code == 401
    wrong = client.get("/api/snapshot/traffic", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    query = client.get("/api/snapshot/traffic?token=test-admin-token-0123456789")
    assert query.status_code == 401


def test_snapshot_404_for_unknown_or_empty_channel(
    client: TestClient, auth: dict[str, str]
) -> None:
    assert client.get("/api/snapshot/traffic", headers=auth).status_code == 404
    assert client.get("/api/snapshot/NOT-A-CHANNEL", headers=auth).status_code == 404


def test_snapshot_200_returns_what_the_agent_stored(
    client: TestClient, auth: dict[str, str], token: str, publisher: Callable[..., None]
) -> None:
    publisher("forms", {"forms": [{"form_id": "signup", "starts": 4}]}, ts=123)
    by_header = client.get("/api/snapshot/forms", headers=auth)
    by_x_header = client.get("/api/snapshot/forms", headers={"X-Dojo-Token": token})
    assert by_header.status_code == by_x_header.status_code == 200
    # The raw token in a cookie is no credential any more: only signed sessions are.
    raw_cookie = client.get("/api/snapshot/forms", headers={"Cookie": f"dojo_session={token}"})
    assert raw_cookie.status_code == 401
    assert by_header.json() == {
        "channel": "forms",
        "data": {"forms": [{"form_id": "signup", "starts": 4}]},
        "ts": 123,
    }
    assert by_header.headers["cache-control"] == "no-store"


def test_healthz_pings_redis(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_metrics_parse_and_mirror_worker_stats(client: TestClient, rdb: redis.Redis) -> None:
    keys = Keys.of(Settings())
    rdb.set(keys.events_processed, 4242)
    rdb.set(keys.namespace + "stats:lag", 17)  # the key nobody wrote: lag now comes from Kafka
    rdb.hset(keys.folded, mapping={"count_traffic": 12, "learn_online": 9})
    response = client.get("/metrics")
    assert response.status_code == 200
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    for name in (
        "dojo_live_ws_clients",
        "dojo_live_messages_sent",
        "dojo_live_messages_coalesced",
        "dojo_live_slow_client_disconnects",
    ):
        assert name in families
    assert families["dojo_events_processed"].samples[0].value == 4242
    # Running totals are counters (``rate()`` works on them), named with ``_total``.
    assert families["dojo_events_processed"].type == "counter"
    assert families["dojo_events_processed"].samples[0].name == "dojo_events_processed_total"
    assert families["dojo_agent_messages_folded"].type == "counter"
    assert all(s.value != 17 for s in families["dojo_consumer_lag"].samples)
    folded = {s.labels["agent"]: s.value for s in families["dojo_agent_messages_folded"].samples}
    assert folded == {"count_traffic": 12, "learn_online": 9}


def test_page_has_a_strict_content_security_policy(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "<script>" not in page.text  # no inline scripts for the CSP to block
    assert page.headers["x-content-type-options"] == "nosniff"


def test_login_sets_a_strict_httponly_cookie(client: TestClient, token: str) -> None:
    response = client.post("/login", data={"token": token}, follow_redirects=False)
    assert response.status_code == 303
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert "path=/" in cookie
    assert "secure" not in cookie  # plain http: a Secure cookie would never come back
    assert token.lower() not in cookie
    assert client.get("/api/snapshot/traffic").status_code == 404  # authenticated by cookie


def test_login_with_a_wrong_token_sets_no_cookie(client: TestClient) -> None:
    response = client.post("/login", data={"token": "nope"}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/?login=failed"
    assert "set-cookie" not in response.headers
