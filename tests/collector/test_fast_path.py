"""The collector's per-request fast path: cached addresses, buckets and salt, one raw message.

Each shortcut must answer exactly what the long way answers, for hostile input too, and
must keep the edges: the limit holds through the cached bucket, the salt still changes at
midnight and after Redis lost it, and nothing personal reaches Redis or Kafka.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from typing import Any

import orjson
import pytest
import redis
import redis.asyncio as aioredis
from starlette.testclient import TestClient

from collector.app import accepted, create_app, raw_message
from collector.envelope import MAX_DEPTH, BadRequest, parse_events
from collector.proxies import CACHED_CHARS, _cached_client, forwarded_client, trusted_networks
from collector.ratelimit import _bucket, _cached_bucket, client_bucket
from collector.salt import SaltCache, salt_day
from collector.scrub import PLAIN_KEYS, SCALARS, _walk, scrub_events
from stream.ingest.sanitize import scrub_prop
from stream.models import RawBatch
from stream.models.keys import Keys
from stream.settings import Settings
from tests.collector.conftest import CLIENT_IP, IPHONE_UA, NOON, Clock, MemorySink, event

JSON_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    2**63,
    1.5,
    "",
    "x" * 300,
    [],
    {},
    [1],
    {"a": 1},
]
DAY = 86_400 * (int(NOON) // 86_400 + 1)  # the midnight after NOON


@pytest.mark.parametrize("events", [[event(0)], JSON_VALUES, [{"a": v} for v in JSON_VALUES]])
@pytest.mark.parametrize("bot", [True, False])
def test_raw_message_is_what_the_record_writes(events: list[Any], bot: bool) -> None:
    fields = dict(
        received_at=NOON * 1000,
        visitor_id="ab" * 16,
        device="bot",
        bot=bot,
        site="s",
        events=events,
    )
    message = raw_message(**fields)  # type: ignore[arg-type]
    record = RawBatch(**fields)
    assert orjson.loads(message) == record.asdict()
    assert RawBatch.loads(message) == record


def test_accepted_answers_202_with_the_count() -> None:
    for n in (1, 3, 50):
        reply = accepted(n)
        assert reply.status_code == 202
        assert orjson.loads(reply.body) == {"accepted": n}
        assert reply.headers["content-type"] == "application/json"


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def test_depth_is_still_bounded_past_the_bracket_count() -> None:
    assert parse_events(b'{"events": [' + nested(MAX_DEPTH - 2) + b"]}", 50) == [
        orjson.loads(nested(MAX_DEPTH - 2))
    ]
    for body in (nested(MAX_DEPTH + 1), b'{"events": [' + nested(MAX_DEPTH - 1) + b"]}"):
        with pytest.raises(BadRequest) as refused:
            parse_events(body, 50)
        assert refused.value.code == "too_deep"


def test_brackets_inside_strings_only_cost_the_walk() -> None:
    text = "{[" * 40
    body = orjson.dumps({"events": [{"props": {"title": text}, "u": "\\u007b" * 40}]})
    assert parse_events(body, 50)[0]["props"]["title"] == text


def test_cached_client_address_matches_the_long_way() -> None:
    proxies = ("10.0.0.0/8",)
    cases = [
        ("203.0.113.9", ()),
        ("10.0.0.1", ("198.51.100.1",)),
        ("10.0.0.1", ("198.51.100.7, 10.0.0.3",)),
        ("10.0.0.1", ("not an address",)),
        ("::ffff:10.0.0.5", ("198.51.100.1",)),
        ("2001:DB8::0:1", ()),
        ("", ()),
    ]
    for peer, hops in cases:
        expected = forwarded_client(peer, hops, trusted_networks(proxies))
        assert _cached_client(peer, hops, proxies) == expected
        assert _cached_client(peer, hops, ()) == forwarded_client(peer, hops, ())


def test_long_forwarded_headers_are_answered_but_not_kept(
    collector_settings: Settings, sink: MemorySink
) -> None:
    settings = dataclasses.replace(collector_settings, trusted_proxies=("127.0.0.0/8",))
    hops = ", ".join(f"198.51.100.{i}" for i in range(CACHED_CHARS // 10)) + ", 192.0.2.44"
    with TestClient(create_app(settings, sink=sink), client=("127.0.0.1", 40000)) as client:
        before = _cached_client.cache_info().currsize
        reply = client.post("/collect", json=event(0), headers={"x-forwarded-for": hops})
        assert _cached_client.cache_info().currsize == before
    assert reply.status_code == 202
    assert len(sink.messages) == 1


def test_cached_bucket_matches_and_changes_with_the_salt() -> None:
    one, two = "ab" * 32, "cd" * 32
    for address in ("192.0.2.1", "2001:db8:1:2::1", "testclient", "\x00' OR 1=1", "\udcff"):
        assert _cached_bucket(one, "site", address) == _bucket(one, "site", address)
        assert client_bucket(one, "site", address) != client_bucket(two, "site", address)
    long = "1" * 5000  # no address: computed each time, never kept
    before = _cached_bucket.cache_info().currsize
    assert client_bucket(one, "site", long) == _bucket(one, "site", long)
    assert _cached_bucket.cache_info().currsize == before


def test_a_burst_from_one_client_is_held_to_the_limit_through_the_caches(
    collector_settings: Settings, sink: MemorySink, clock: Clock
) -> None:
    limit = 40
    settings = dataclasses.replace(collector_settings, rate_limit_per_minute=limit)
    with TestClient(create_app(settings, sink=sink, clock=clock), client=(CLIENT_IP, 4)) as client:
        statuses = Counter(
            client.post("/collect", json=event(i)).status_code for i in range(limit + 25)
        )
    assert statuses == Counter({202: limit, 429: 25})
    assert len(sink.messages) == limit


def test_the_salt_changes_at_midnight_inside_the_cache_age(collector_settings: Settings) -> None:
    async def run() -> tuple[str, str, str]:
        r = aioredis.Redis.from_url(collector_settings.redis_url)
        cache = SaltCache(r, Keys.of(collector_settings), max_age_s=3600.0)
        try:
            before = await cache.get(DAY - 0.001)
            after = await cache.get(DAY)
            again = await cache.get(DAY - 0.001)  # a clock stepping back: yesterday's again
        finally:
            await r.aclose()
        return before, after, again

    before, after, again = asyncio.run(run())
    assert salt_day(DAY - 0.001) != salt_day(DAY)
    assert before != after
    assert again == before


def test_after_a_flush_the_cached_salt_is_written_back(collector_settings: Settings) -> None:
    keys = Keys.of(collector_settings)

    async def run() -> tuple[str, str, bytes | None]:
        r = aioredis.Redis.from_url(collector_settings.redis_url)
        cache = SaltCache(r, keys, max_age_s=5.0)
        try:
            first = await cache.get(NOON)
            await r.flushdb()
            later = await cache.get(NOON + 6)  # past the cache age: read again
            stored = await r.get(keys.salt(salt_day(NOON)))
        finally:
            await r.aclose()
        return first, later, stored

    first, later, stored = asyncio.run(run())
    assert later == first
    assert stored is not None and stored.decode().startswith(first)


def test_nothing_personal_in_kafka_or_redis_bytes(
    collector_settings: Settings, sink: MemorySink, clock: Clock
) -> None:
    with TestClient(
        create_app(collector_settings, sink=sink, clock=clock), client=(CLIENT_IP, 4)
    ) as client:
        for i in range(3):
            reply = client.post("/collect", json=event(i), headers={"user-agent": IPHONE_UA})
            assert reply.status_code == 202
    r = redis.Redis.from_url(collector_settings.redis_url)
    stored = [k + (r.dump(k) or b"") for k in r.scan_iter()]
    r.close()
    for blob in [value for _, value in sink.messages] + stored:
        assert CLIENT_IP.encode() not in blob
        assert b"iPhone" not in blob
        assert b"Safari" not in blob


def test_the_scrub_shortcut_changes_nothing_it_skips() -> None:
    for key in PLAIN_KEYS:
        assert scrub_prop("", key) == key
    for value in [None, True, False, 0, -1, 2**63, 1.5, float("inf")]:
        assert type(value) in SCALARS
        assert _walk(value, "") == value or value != value
    assert not {str, list, dict, bytes} & SCALARS


def test_scrub_still_cleans_what_is_not_skipped() -> None:
    hostile = {
        "event_id": "a@b.example",  # a plain key: its value is still scrubbed
        "mail@x.example": 1,  # an unknown key is scrubbed like a value
        "ts": True,
        "props": {"title": "call 0612345678 or x@y.example"},
        "url": "/find?q=secret&utm_source=x",
    }
    out = scrub_events([hostile])[0]
    assert b"@b.example" not in orjson.dumps(out)
    assert b"x@y.example" not in orjson.dumps(out)
    assert b"mail@x.example" not in orjson.dumps(out)
    assert out["ts"] is True
    assert out["url"] == "/find?utm_source=x"
