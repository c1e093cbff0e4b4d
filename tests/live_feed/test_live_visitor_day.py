"""Today's visitor figure flagged when the day's salt was made anew: REST for the panel, /metrics.

The flag is the collector's ``Keys.salt_reset(day)`` (``collector.salt``), written here as the
collector writes it, in the test's real Redis.
"""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from collector.salt import Salt, fetch_salt, reset_key
from infra.process import free_port
from live_feed import create_app
from live_feed.visitor_day import utc_day
from stream.models.keys import Keys
from stream.settings import Settings


def broken_gauge(client: TestClient) -> float:
    response = client.get("/metrics")
    assert response.status_code == 200
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    return families["dojo_visitors_day_broken"].samples[0].value


def test_a_whole_day_has_no_note_and_the_gauge_is_zero(
    client: TestClient, auth: dict[str, str]
) -> None:
    body = client.get("/api/visitors/day", headers=auth).json()
    assert body == {"day": utc_day(time.time()), "broken": False, "salt_lost_at": None}
    assert broken_gauge(client) == 0


def test_a_salt_made_anew_today_flags_the_figure_with_its_time(
    client: TestClient, auth: dict[str, str], settings: Settings, rdb: redis.Redis
) -> None:
    now = time.time()
    rdb.set(reset_key(Keys.of(settings), now), int(now) - 60)  # as ``fetch_salt`` records it

    response = client.get("/api/visitors/day", headers=auth)

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == {"day": utc_day(now), "broken": True, "salt_lost_at": int(now) - 60}
    assert broken_gauge(client) == 1


async def test_the_collectors_own_reset_is_what_the_feed_reads(settings: Settings) -> None:
    # A salt the collector makes after the grace period of a day whose salt is gone (and
    # yesterday's too) is a reset; the flag it writes is the one the feed reads.
    from redis.asyncio import Redis

    client = Redis.from_url(settings.redis_url)
    keys = Keys.of(settings)
    noon = time.time() // 86_400 * 86_400 + 12 * 3600
    gone = [keys.salt(utc_day(noon - 86_400)), keys.snapshot("traffic")]
    try:
        await client.delete(keys.salt(utc_day(noon)), keys.salt_reset(utc_day(noon)), *gone)
        salt: Salt = await fetch_salt(client, keys, noon)
        assert await client.get(keys.salt_reset(utc_day(noon))) == str(salt.made_at).encode()
    finally:
        await client.delete(keys.salt(utc_day(noon)), keys.salt_reset(utc_day(noon)))
        await client.aclose()


@pytest.mark.parametrize(
    "hostile",
    [b"", b"soon", b"-1", b"12.5", b"\xff\xfe", b"9" * 40, b"0", b'{"at": 1}', b"1e9"],
)
def test_an_unreadable_flag_still_flags_the_day_without_a_time(
    client: TestClient, auth: dict[str, str], settings: Settings, rdb: redis.Redis, hostile: bytes
) -> None:
    rdb.set(reset_key(Keys.of(settings), time.time()), hostile)

    body = client.get("/api/visitors/day", headers=auth).json()

    assert body["broken"] is True and body["salt_lost_at"] is None
    assert broken_gauge(client) == 1


def test_yesterdays_flag_does_not_flag_today(
    client: TestClient, auth: dict[str, str], settings: Settings, rdb: redis.Redis
) -> None:
    yesterday = time.time() - 86_400
    rdb.set(reset_key(Keys.of(settings), yesterday), int(yesterday))

    assert client.get("/api/visitors/day", headers=auth).json()["broken"] is False
    assert broken_gauge(client) == 0


def test_the_flag_needs_the_admin(client: TestClient) -> None:
    assert client.get("/api/visitors/day").status_code == 401
    wrong = client.get("/api/visitors/day", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401


def test_redis_away_answers_503_not_500(settings: Settings) -> None:
    nowhere = replace(settings, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    headers = {"Authorization": f"Bearer {settings.admin_token.reveal()}"}
    with TestClient(create_app(nowhere), raise_server_exceptions=False) as client:
        response = client.get("/api/visitors/day", headers=headers)
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) > 0
