"""The site's public API: recommendations and personalisation, served from what the worker left."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis
from starlette.testclient import TestClient

from collector.salt import daily_salt
from collector.visitor import visitor_id
from stream.serving import store_for_visitors
from stream.settings import Settings
from tests.collector.conftest import CLIENT_IP, IPHONE_UA, NOON

ITEMS = [
    {"item": f"/events/dojo-{i}", "score": 1.0 - i / 10, "reason": "people like you"}
    for i in range(8)
]
POPULAR = [{"item": "/learn/scratch-basics", "score": 0.9, "reason": "popular"}]
SEGMENT = {"segment": 2, "label": "event seeker", "blocks": ["upcoming-dojos", "register-cta"]}


def seed(settings: Settings, visitor: str) -> None:
    async def write() -> None:
        redis = Redis.from_url(settings.redis_url)
        await store_for_visitors(redis, {visitor: ITEMS}, {visitor: SEGMENT}, POPULAR)
        await redis.aclose()

    asyncio.run(write())


def own_visitor(settings: Settings) -> str:
    async def compute() -> str:
        redis = Redis.from_url(settings.redis_url)
        salt = await daily_salt(redis, NOON)
        await redis.aclose()
        return visitor_id(salt, settings.site_id, CLIENT_IP, IPHONE_UA)

    return asyncio.run(compute())


def test_recommendations_for_a_named_visitor(
    client: TestClient, collector_settings: Settings
) -> None:
    seed(collector_settings, "ab12cd34ef56")
    reply = client.get("/api/recommendations", params={"visitor": "ab12cd34ef56", "n": 3})
    assert reply.status_code == 200
    assert reply.json() == {"items": ITEMS[:3], "source": "personal"}
    assert reply.headers["cache-control"].startswith("private")


def test_unknown_visitor_gets_popular_items(
    client: TestClient, collector_settings: Settings
) -> None:
    seed(collector_settings, "ab12cd34ef56")
    reply = client.get("/api/recommendations", params={"visitor": "ffffffffffff"})
    assert reply.json() == {"items": POPULAR, "source": "popular"}


def test_the_asking_visitor_is_identified_like_the_beacon(
    client: TestClient, collector_settings: Settings
) -> None:
    seed(collector_settings, own_visitor(collector_settings))
    assert client.get("/api/recommendations").json()["source"] == "personal"
    assert client.get("/api/personalize").json() == SEGMENT


def test_newcomers_get_default_blocks(client: TestClient) -> None:
    body = client.get("/api/personalize", params={"visitor": "0123456789ab"}).json()
    assert body["label"] == "newcomer"
    assert body["blocks"]


def test_bad_parameters_are_named(client: TestClient) -> None:
    for params in (
        {"visitor": "NOT-HEX!"},
        {"visitor": "ab12cd34", "n": "0"},
        {"visitor": "ab12cd34", "n": "x"},
    ):
        reply = client.get("/api/recommendations", params=params)
        assert reply.status_code == 400
        assert reply.json()["error"] == "bad_query"
    assert client.get("/api/personalize", params={"visitor": "z"}).status_code == 400


def test_cors_only_for_the_site(client: TestClient) -> None:
    allowed = client.get(
        "/api/personalize",
        params={"visitor": "ab12cd34"},
        headers={"Origin": "https://dojo.example"},
    )
    assert allowed.headers.get("access-control-allow-origin") == "https://dojo.example"
    other = client.get(
        "/api/personalize",
        params={"visitor": "ab12cd34"},
        headers={"Origin": "https://evil.example"},
    )
    assert "access-control-allow-origin" not in other.headers
