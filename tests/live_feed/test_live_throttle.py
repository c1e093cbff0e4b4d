"""Guessing the admin token: 5 wrong tries a minute per address, a small cap overall, 429."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.testclient import TestClient

from live_feed import create_app
from live_feed.throttle import OVERALL, PER_CLIENT, WINDOW_S, Throttle
from stream.settings import Settings
from tests.live_feed.conftest import FixedOffsets


@pytest.fixture
def throttle() -> Throttle:
    return Throttle()


@pytest.fixture
def app(settings: Settings, rdb: redis.Redis, throttle: Throttle) -> Starlette:
    return create_app(settings, offsets=FixedOffsets({}), throttle=throttle)


ATTACKER = ("203.0.113.66", 40000)


@pytest.fixture
def attacker(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app, client=ATTACKER) as test_client:
        yield test_client


def login(client: TestClient, token: str) -> int:
    return client.post("/login", data={"token": token}, follow_redirects=False).status_code


def counter(client: TestClient, name: str) -> float:
    families = {f.name: f for f in text_string_to_metric_families(client.get("/metrics").text)}
    return sum(s.value for s in families[name].samples if s.name == f"{name}_total")


def test_the_sixth_wrong_sign_in_within_a_minute_gets_429_even_with_the_right_token(
    settings: Settings, app: Starlette, throttle: Throttle, token: str
) -> None:
    with TestClient(app, client=ATTACKER) as attacker:
        for guess in range(PER_CLIENT):
            assert login(attacker, f"guess-{guess}") == 303
        refused = attacker.post("/login", data={"token": "guess-x"}, follow_redirects=False)
        assert refused.status_code == 429
        retry_after = int(refused.headers["retry-after"])
        assert 0 < retry_after <= WINDOW_S
        assert "set-cookie" not in refused.headers
        # Throttled means not compared: a right guess now cannot be told from a wrong one.
        assert login(attacker, token) == 429
        assert counter(attacker, "dojo_live_auth_throttled") == 2
    # Another address is not held back by this one; the attacker still is. (A second app
    # on the same throttle: one app runs its lifespan once at a time.)
    again = create_app(settings, offsets=FixedOffsets({}), throttle=throttle)
    with TestClient(again, client=("198.51.100.7", 50000)) as admin:
        assert login(admin, token) == 303
    with TestClient(again, client=ATTACKER) as same:
        assert login(same, token) == 429


def test_bearer_guesses_on_the_api_and_the_websocket_share_the_limit(
    attacker: TestClient, token: str
) -> None:
    for guess in range(PER_CLIENT - 1):
        headers = {"Authorization": f"Bearer guess-{guess}"}
        assert attacker.get("/api/funnels", headers=headers).status_code == 401
    with attacker.websocket_connect("/ws/live") as ws:
        ws.send_json({"token": "one-more-guess"})
        assert ws.receive()["type"] == "websocket.close"
    throttled = attacker.get("/api/funnels", headers={"Authorization": f"Bearer {token}"})
    assert throttled.status_code == 429
    assert int(throttled.headers["retry-after"]) > 0
    with attacker.websocket_connect("/ws/live", headers={"X-Dojo-Token": token}) as ws:
        closed = ws.receive()
        assert closed["code"] == 4429


def test_opening_the_page_without_credentials_is_no_guess(attacker: TestClient) -> None:
    for _ in range(PER_CLIENT * 3):
        assert attacker.get("/api/funnels").status_code == 401
        with attacker.websocket_connect("/ws/live") as ws:
            ws.send_json({"subscribe": ["traffic"]})  # no token: the panel before sign-in
            assert ws.receive()["code"] == 4401
    assert counter(attacker, "dojo_live_auth_throttled") == 0


def test_hostile_sign_in_bodies_are_counted_as_failures_not_errors(attacker: TestClient) -> None:
    bodies = [
        b"token=" + b"A" * 4000,
        b"\xff\xfe\x00token=\x00\x00",
        b"token=%00%ff&token=x",
        b"",
    ]
    for body in bodies:
        response = attacker.post(
            "/login",
            content=body,
            headers={"content-type": "application/x-www-form-urlencoded"},
            follow_redirects=False,
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/?login=failed"
    too_big = attacker.post("/login", content=b"token=" + b"A" * 10_000, follow_redirects=False)
    assert too_big.status_code == 413


def test_a_spread_out_attack_meets_the_overall_cap() -> None:
    throttle = Throttle()
    now = 1000.0
    for n in range(OVERALL):
        assert throttle.wait_s(f"10.0.{n // 250}.{n % 250}", now) == 0
        throttle.failed(f"10.0.{n // 250}.{n % 250}", now)
    assert throttle.wait_s("192.0.2.1", now + 1) == pytest.approx(WINDOW_S - 1)
    assert throttle.wait_s("192.0.2.1", now + WINDOW_S + 0.01) == 0  # the window moved on


def test_failures_leave_the_window_one_by_one_and_addresses_are_forgotten() -> None:
    throttle = Throttle(per_client=3, overall=100, window_s=60)
    for at in (0.0, 10.0, 20.0):
        throttle.failed("client", at)
    assert throttle.wait_s("client", 30.0) == pytest.approx(30.0)  # the first leaves at 60
    assert throttle.wait_s("client", 60.5) == 0
    assert throttle.wait_s("someone-else", 30.0) == 0
    assert throttle.clients == 1
    throttle.wait_s("anyone", 200.0)
    assert throttle.clients == 0  # nothing of the address stays past its window
