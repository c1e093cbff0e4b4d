"""No IP or user agent leaves the collector; visitor ids last one UTC day."""

from __future__ import annotations

import orjson
import redis
from starlette.testclient import TestClient

from collector.salt import salt_key
from stream.models.keys import Keys
from stream.settings import Settings
from tests.collector.conftest import CLIENT_IP, IPHONE_UA, Clock, MemorySink, event


def visitor_of(client: TestClient, sink: MemorySink, **headers: str) -> str:
    response = client.post("/collect", json={"events": [event(0)]}, headers=headers)
    assert response.status_code == 202
    return str(orjson.loads(sink.messages[-1][1])["visitor_id"])


def test_no_ip_or_user_agent_in_produced_bytes(client: TestClient, sink: MemorySink) -> None:
    client.post("/collect", json={"events": [event(0)]})
    key, value = sink.messages[0]
    produced = key + value
    assert CLIENT_IP.encode() not in produced
    assert IPHONE_UA.encode() not in produced
    for fragment in ("iPhone", "Mozilla", "AppleWebKit", "Safari/604", "17_4"):
        assert fragment.encode() not in produced


def test_visitor_stable_within_a_day(client: TestClient, sink: MemorySink, clock: Clock) -> None:
    first = visitor_of(client, sink)
    clock.now += 11 * 3600  # 23:00 the same UTC day, well past the salt cache
    assert visitor_of(client, sink) == first


def test_visitor_changes_across_midnight(
    client: TestClient, sink: MemorySink, clock: Clock
) -> None:
    clock.now += 12 * 3600 - 1  # 23:59:59
    before = visitor_of(client, sink)
    clock.now += 2  # 00:00:01 the next day, within the salt cache's lifetime
    after = visitor_of(client, sink)
    assert before != after


def test_visitor_differs_by_browser(client: TestClient, sink: MemorySink) -> None:
    iphone = visitor_of(client, sink)
    desktop = visitor_of(client, sink, **{"user-agent": "Mozilla/5.0 (X11; Linux x86_64)"})
    assert iphone != desktop


def test_salt_key_expires_48h_after_day_start(
    client: TestClient, clock: Clock, redis_url: str
) -> None:
    client.post("/collect", json={"events": [event(0)]})
    with redis.Redis.from_url(redis_url) as r:
        expire_at = r.expiretime(salt_key(Keys.of(Settings()), clock.now))
    day_start = clock.now - 12 * 3600  # the clock starts at noon UTC
    assert expire_at == day_start + 48 * 3600
