"""The site's public API: recommendations and personalisation, served from what the worker left."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis
from starlette.testclient import TestClient

from collector.salt import daily_salt
from collector.visitor import visitor_id
from stream.learning.serving import store_for_visitors
from stream.models.keys import Keys
from stream.settings import Settings
from tests.collector.conftest import CLIENT_IP, IPHONE_UA, NOON

ITEMS = [
    {"item": f"/events/dojo-{i}", "score": 1.0 - i / 10, "reason": "matches your interests"}
    for i in range(8)
]
POPULAR = [{"item": "/resources/scratch-basics", "score": 0.9, "reason": "popular right now"}]
SEGMENT = {"segment": 2, "label": "event seeker", "blocks": ["upcoming-dojos", "register-cta"]}


def seed(settings: Settings, visitor: str) -> None:
    async def write() -> None:
        redis = Redis.from_url(settings.redis_url)
        await store_for_visitors(
            redis, Keys.of(settings), {visitor: ITEMS}, {visitor: SEGMENT}, POPULAR
        )
        await redis.aclose()

    asyncio.run(write())


def own_visitor(settings: Settings) -> str:
    async def compute() -> str:
        redis = Redis.from_url(settings.redis_url)
        salt = await daily_salt(redis, Keys.of(settings), NOON)
        await redis.aclose()
        return visitor_id(salt, settings.site_id, CLIENT_IP, IPHONE_UA)

    return asyncio.run(compute())


def test_another_visitors_list_is_never_returned(
    client: TestClient, collector_settings: Settings
) -> None:
    seed(collector_settings, "ab12cd34ef56")  # someone else's personal list and segment
    for params in ({"visitor": "ab12cd34ef56"}, {"visitor": "ab12cd34ef56", "n": "3"}):
        reply = client.get("/api/recommendations", params=params)
        assert reply.status_code == 400
        assert reply.json()["error"] == "bad_query"
        assert "visitor=" in reply.json()["detail"]
        assert "/events/dojo-0" not in reply.text
    assert client.get("/api/personalize", params={"visitor": "ab12cd34ef56"}).status_code == 400
    # Repeated, empty, or smuggled in another case: still refused, never answered for them.
    for query in ("visitor=ab12cd34ef56&visitor=ab12cd34ef56", "visitor=", "n=3&visitor=x"):
        assert client.get(f"/api/recommendations?{query}").status_code == 400
    # Without the parameter, the asker (who has no list) gets the popular items, not theirs.
    assert client.get("/api/recommendations").json() == {"items": POPULAR, "source": "popular"}
    assert client.get("/api/personalize").json()["label"] == "newcomer"


def test_the_asking_visitor_is_identified_like_the_beacon(
    client: TestClient, collector_settings: Settings
) -> None:
    seed(collector_settings, own_visitor(collector_settings))
    assert client.get("/api/recommendations").json()["source"] == "personal"
    assert client.get("/api/personalize").json() == SEGMENT


def test_newcomers_get_default_blocks(client: TestClient) -> None:
    body = client.get("/api/personalize").json()
    assert body["label"] == "newcomer"
    assert body["blocks"]


def test_bad_parameters_are_named(client: TestClient) -> None:
    for n in ("0", "x", "21", "-1", "1e3", "\u0661"):
        reply = client.get("/api/recommendations", params={"n": n})
        assert reply.status_code == 400
        assert reply.json()["error"] == "bad_query"


def test_cors_only_for_the_site(client: TestClient) -> None:
    allowed = client.get("/api/personalize", headers={"Origin": "https://dojo.example"})
    assert allowed.headers.get("access-control-allow-origin") == "https://dojo.example"
    other = client.get("/api/personalize", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers
    assert other.status_code == 403


def test_only_items_of_the_site_are_served(
    client: TestClient, collector_settings: Settings
) -> None:
    junk = [
        {
            "item": "/resources/<img src=x onerror=alert(1)>",
            "score": 9,
            "reason": "popular right now",
        },
        {"item": "/events/dojo-1", "score": 1, "reason": "<script>alert(1)</script>"},
    ]

    visitor = own_visitor(collector_settings)

    async def write() -> None:
        redis = Redis.from_url(collector_settings.redis_url)
        await store_for_visitors(
            redis, Keys.of(collector_settings), {visitor: junk}, {}, junk + POPULAR
        )
        await redis.aclose()

    asyncio.run(write())
    # Nothing servable in the personal list: the popular items, less the junk among them.
    assert client.get("/api/recommendations").json() == {"items": POPULAR, "source": "popular"}
