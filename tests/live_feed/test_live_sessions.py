"""Admin sessions: signed, expiring, revoked by signing out; the cookie never holds the token."""

from __future__ import annotations

import time

from redis.asyncio import Redis
from starlette.testclient import TestClient

from live_feed import create_app
from live_feed.auth import Gate
from live_feed.feed import CLOSE_UNAUTHORIZED
from live_feed.metrics import LiveMetrics
from live_feed.session import COOKIE, TTL_S, Sessions
from live_feed.throttle import Throttle
from stream.models.keys import Keys
from stream.settings import Secret, Settings
from tests.live_feed.conftest import FixedOffsets


def sign_in(client: TestClient, token: str) -> str:
    response = client.post("/login", data={"token": token}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return response.cookies[COOKIE]


def get_with(client: TestClient, cookie: str) -> int:
    client.cookies.clear()  # only the cookie given, never the jar's
    return client.get("/api/funnels", headers={"Cookie": f"{COOKIE}={cookie}"}).status_code


def test_a_session_lets_in_until_signed_out_then_that_same_cookie_is_refused(
    client: TestClient, token: str
) -> None:
    cookie = sign_in(client, token)
    assert token not in cookie
    assert get_with(client, cookie) == 200
    out = client.post("/logout", headers={"Cookie": f"{COOKIE}={cookie}"}, follow_redirects=False)
    assert out.status_code == 303
    assert "max-age=0" in out.headers["set-cookie"].lower()
    # Somebody who copied the cookie before the sign-out gets nothing with it.
    assert get_with(client, cookie) == 401


def test_two_sessions_are_independent(client: TestClient, token: str) -> None:
    first, second = sign_in(client, token), sign_in(client, token)
    assert first != second
    client.post("/logout", headers={"Cookie": f"{COOKIE}={first}"}, follow_redirects=False)
    assert get_with(client, first) == 401
    assert get_with(client, second) == 200


def test_tampered_forged_and_hostile_cookies_are_refused(client: TestClient, token: str) -> None:
    cookie = sign_in(client, token)
    payload, _, signature = cookie.rpartition(".")
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    hostile = [
        f"{payload}.{flipped}",  # signature changed
        payload[:-1] + ("x" if payload[-1] != "x" else "y") + "." + signature,  # payload changed
        token,  # the raw token, as the old cookie held it
        "",
        "." * 40,
        "a" * 20_000,
        "eyJzaWQiOiJ4IiwiZXhwIjo5OTk5OTk5OTk5fQ.AAAA",  # an unsigned, never-expiring claim
        '"; DROP TABLE x; --',
        "\\u0000" * 30,
    ]
    for value in hostile:
        assert get_with(client, value) == 401, value
    assert get_with(client, cookie) == 200  # the genuine one still works


async def test_expired_and_other_key_sessions_are_refused(settings: Settings) -> None:
    redis, keys = Redis.from_url(settings.redis_url), Keys.of(settings)
    try:
        now = time.time()
        sessions = Sessions(redis, keys, settings.admin_token)
        # Opened long ago: its signed expiry has passed (its Redis key is still there).
        old = await Sessions(
            redis, keys, settings.admin_token, clock=lambda: now - TTL_S - 5
        ).open()
        assert not await sessions.valid(old)
        # Signed with another admin token's key: every session ends when the token changes.
        other = await Sessions(redis, keys, Secret("another-token-entirely")).open()
        assert not await sessions.valid(other)
        fresh = await sessions.open()
        assert await sessions.valid(fresh)
        late = Sessions(redis, keys, settings.admin_token, clock=lambda: now + TTL_S + 1)
        assert not await late.valid(fresh)
    finally:
        await redis.aclose()


async def test_without_redis_a_session_is_answered_503_never_let_in(settings: Settings) -> None:
    alive, keys = Redis.from_url(settings.redis_url), Keys.of(settings)
    cookie = await Sessions(alive, keys, settings.admin_token).open()
    await alive.aclose()
    down = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    gate = Gate(settings, Sessions(down, keys, settings.admin_token), Throttle(), LiveMetrics())
    verdict = await gate.session(cookie)
    assert verdict.status == 503
    assert not verdict.allowed
    assert verdict.retry_after_s > 0
    await down.aclose()


def test_the_websocket_takes_a_session_and_refuses_it_after_sign_out(
    client: TestClient, token: str
) -> None:
    cookie = sign_in(client, token)
    client.cookies.clear()
    headers = {"Cookie": f"{COOKIE}={cookie}"}
    with client.websocket_connect("/ws/live", headers=headers) as ws:
        ws.send_json({"subscribe": ["traffic"]})
        first = ws.receive_json()
        assert first["channel"] == "traffic"
    client.post("/logout", headers=headers, follow_redirects=False)
    client.cookies.clear()
    with client.websocket_connect("/ws/live", headers=headers) as ws:
        ws.send_json({"subscribe": ["traffic"]})
        closed = ws.receive()
        assert closed["type"] == "websocket.close"
        assert closed["code"] == CLOSE_UNAUTHORIZED


def test_a_session_cookie_from_another_site_opens_no_websocket(
    client: TestClient, token: str
) -> None:
    cookie = sign_in(client, token)
    client.cookies.clear()
    headers = {"Cookie": f"{COOKIE}={cookie}", "Origin": "https://evil.example"}
    with client.websocket_connect("/ws/live", headers=headers) as ws:
        closed = ws.receive()
        assert closed["type"] == "websocket.close"
        assert closed["code"] == CLOSE_UNAUTHORIZED


def test_over_https_the_cookie_is_secure(settings: Settings, token: str) -> None:
    app = create_app(settings, offsets=FixedOffsets({}))
    with TestClient(app, base_url="https://testserver") as client:
        response = client.post("/login", data={"token": token}, follow_redirects=False)
        cookie = response.headers["set-cookie"].lower()
        assert "; secure" in cookie
        assert "httponly" in cookie
        assert "samesite=strict" in cookie
